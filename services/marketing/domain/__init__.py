"""Marketing's audience read model rules. Pure Python, no I/O."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AudienceMember:
    tenant_id: str
    contact_id: str
    email: str
    given_name: str
    family_name: str
    lifecycle_stage: str
    tags: tuple[str, ...]
    # The contact version this copy reflects; events may arrive out of order.
    source_update_time: dt.datetime
    deleted: bool = False
    phone: str = ""
    # Custom field values as the contact carries them (key -> JSON value), for segment rules.
    custom_fields: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)


def supersedes(incoming: dt.datetime, current: AudienceMember | None) -> bool:
    """Whether a contact version should replace our copy: newer wins, so a late event changes nothing.

    A deletion is kept as a tombstone, so a late update cannot bring a deleted contact back.
    """
    if current is None:
        return True
    return incoming > current.source_update_time
