"""Etags: a short digest of a resource's id, version time and writable state (AIP-154)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from typing import Any


def etag_of(resource_id: str, state: Any, version_time: dt.datetime, *extra: Any) -> str:
    """Changes whenever the state, its version time or an `extra` value (a status, a counter) does;
    `state` is a dataclass instance."""
    values = {f.name: getattr(state, f.name) for f in dataclasses.fields(state)}
    canonical = json.dumps([resource_id, version_time.isoformat(), values, *extra], sort_keys=True, default=_plain)
    return hashlib.blake2b(canonical.encode(), digest_size=8).hexdigest()


def _plain(value: Any) -> Any:
    """Times as RFC 3339 text, nested dataclasses as dicts, anything else iterable (tuples, sets) as a list."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # a nested value object
        return dataclasses.asdict(value)
    return list(value)
