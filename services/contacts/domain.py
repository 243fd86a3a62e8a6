"""Contact rules: validation, normalisation, updates and etags. Pure Python, no I/O."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from crmkit.errors import Aborted, Validator
from crmkit.etags import etag_of
from crmkit.updates import apply_mask

MAX_NAME = 200
MAX_TAGS = 100
MAX_TAG = 64
MAX_ACCOUNTS = 100
MAX_ID = 64
MAX_CUSTOM_FIELDS = 100
MAX_CUSTOM_FIELDS_BYTES = 16 * 1024
LIFECYCLE_STAGES = (
    "SUBSCRIBER",
    "LEAD",
    "MARKETING_QUALIFIED_LEAD",
    "SALES_QUALIFIED_LEAD",
    "OPPORTUNITY",
    "CUSTOMER",
    "EVANGELIST",
    "OTHER",
)
CUSTOM_FIELD_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
# Output-only or concurrency fields: ignored in an update mask (AIP-161), never written by a caller.
SYSTEM_FIELDS = frozenset({"id", "create_time", "update_time", "etag"})


@dataclass(frozen=True)
class ContactFields:
    """What a caller may write."""

    given_name: str = ""
    family_name: str = ""
    email: str = ""
    phone: str = ""
    title: str = ""
    account_ids: tuple[str, ...] = ()
    owner_id: str = ""
    lifecycle_stage: str = ""
    tags: tuple[str, ...] = ()
    custom_fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Contact:
    id: str
    tenant_id: str
    data: ContactFields
    create_time: dt.datetime
    update_time: dt.datetime
    etag: str


def normalise(data: ContactFields) -> ContactFields:
    """Validate every field at once and return the normalised copy (E.164 phones, canonical emails)."""
    check = Validator()
    values: dict[str, Any] = {}
    for name in ("given_name", "family_name", "title"):
        values[name] = check.text(name, getattr(data, name), MAX_NAME)
    values["email"] = check.email("email", data.email)
    values["phone"] = check.phone("phone", data.phone)
    values["owner_id"] = check.identifier("owner_id", data.owner_id, MAX_ID)
    values["account_ids"] = check.labels(
        "account_ids", data.account_ids, limit=MAX_ACCOUNTS, max_length=MAX_ID, allow_slash=False
    )
    values["tags"] = check.labels("tags", data.tags, limit=MAX_TAGS, max_length=MAX_TAG)
    if data.lifecycle_stage and data.lifecycle_stage not in LIFECYCLE_STAGES:
        check.add("lifecycle_stage", f"must be one of {', '.join(LIFECYCLE_STAGES)}")
    values["lifecycle_stage"] = data.lifecycle_stage
    values["custom_fields"] = _custom_fields(check, data.custom_fields)
    if not any(values[n] for n in ("given_name", "family_name", "email", "phone")):
        check.add("given_name", "a contact needs at least one of givenName, familyName, email or phone")
    check.raise_if_any()
    return ContactFields(**values)


def new_contact(contact_id: str, tenant_id: str, data: ContactFields, now: dt.datetime) -> Contact:
    data = normalise(data)
    return Contact(contact_id, tenant_id, data, now, now, compute_etag(contact_id, data, now))


def apply_update(
    contact: Contact, patch: ContactFields, mask: Sequence[str], now: dt.datetime
) -> tuple[Contact, list[str]]:
    """The contact with the masked fields taken from `patch`, and the names of the fields that changed.

    An empty mask means every populated field of the patch (AIP-134).
    """
    merged, changed = apply_mask(contact.data, patch, mask, normalise, SYSTEM_FIELDS)
    if not changed:
        return contact, []
    updated = replace(contact, data=merged, update_time=now, etag=compute_etag(contact.id, merged, now))
    return updated, changed


def check_etag(contact: Contact, expected: str) -> None:
    if expected and expected != contact.etag:
        raise Aborted(f"contact {contact.id} was changed since etag {expected}; read it again and retry")


def compute_etag(contact_id: str, data: ContactFields, update_time: dt.datetime) -> str:
    return etag_of(contact_id, data, update_time)


def _custom_fields(check: Validator, values: Mapping[str, Any]) -> dict[str, Any]:
    if len(values) > MAX_CUSTOM_FIELDS:
        check.add("custom_fields", f"at most {MAX_CUSTOM_FIELDS} custom fields")
    for key in values:
        if not CUSTOM_FIELD_KEY.match(key):
            check.add(f"custom_fields.{key}", "names start with a letter and use letters, digits and _ (max 64)")
    if len(json.dumps(values, default=str)) > MAX_CUSTOM_FIELDS_BYTES:
        check.add("custom_fields", f"at most {MAX_CUSTOM_FIELDS_BYTES} bytes in all")
    return dict(values)
