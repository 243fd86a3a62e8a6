"""The generated API package: loading every message type, for code that works by type name."""

from __future__ import annotations

import functools
import importlib
import pkgutil
from types import ModuleType

import crm


@functools.cache
def generated_modules() -> tuple[ModuleType, ...]:
    """Every `*_pb2` module under `crm`, imported (which registers its types in the default pool)."""
    return tuple(
        importlib.import_module(m.name) for m in pkgutil.walk_packages(crm.__path__, "crm.") if m.name.endswith("_pb2")
    )
