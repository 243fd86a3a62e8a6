"""AIP-134 updates: which fields a PATCH changes, applied to a resource's writable dataclass."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import fields, replace
from typing import Any, TypeVar

from crmkit.errors import Validator

T = TypeVar("T")


def apply_mask(
    current: T, patch: T, mask: Sequence[str], normalise: Callable[[T], T], ignored: Collection[str] = ()
) -> tuple[T, list[str]]:
    """`current` with the masked fields taken from `patch` and normalised, and the fields that changed.

    An empty mask means every populated field of the patch; output-only fields (`ignored`) in the mask
    are skipped (AIP-161); any other unknown path is refused, naming it, before anything changes.
    """
    writable = {f.name for f in fields(current)}  # type: ignore[arg-type]
    populated = [name for name in writable if getattr(patch, name)]
    paths = [p for p in (mask or sorted(populated)) if p not in ignored]
    check = Validator()
    for path in paths:
        if path not in writable:
            check.add("update_mask", f"unknown or read-only field {path!r}")
    check.raise_if_any()
    values: dict[str, Any] = {p: getattr(patch, p) for p in paths}
    merged = normalise(replace(current, **values))  # type: ignore[type-var]
    return merged, [p for p in sorted(set(paths)) if getattr(merged, p) != getattr(current, p)]
