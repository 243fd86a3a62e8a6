"""Contact rules: validation, normalisation, updates and etags. Pure Python, no I/O."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import email_validator
import phonenumbers

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
    # The caller's own id for the contact; unique per tenant when set (imports match by it).
    external_id: str = ""


@dataclass(frozen=True)
class Contact:
    id: str
    tenant_id: str
    data: ContactFields
    create_time: dt.datetime
    update_time: dt.datetime
    etag: str


def normalise(data: ContactFields, *, require_identity: bool = True) -> ContactFields:
    """Validate every field at once and return the normalised copy (E.164 phones, canonical emails).

    Every write path calls this (create, update, each imported row). `require_identity=False` skips
    only the "needs a name, email or phone" rule: an imported row that updates an existing contact
    may carry just the fields it changes (the merged contact keeps its identity).
    """
    check = Validator()
    values: dict[str, Any] = {}
    for name in ("given_name", "family_name", "title"):
        values[name] = check.text(name, getattr(data, name), MAX_NAME)
    values["email"] = _email(check, data.email)
    values["phone"] = _phone(check, data.phone)
    values["owner_id"] = check.identifier("owner_id", data.owner_id, MAX_ID)
    values["account_ids"] = check.labels(
        "account_ids", data.account_ids, limit=MAX_ACCOUNTS, max_length=MAX_ID, allow_slash=False
    )
    values["tags"] = check.labels("tags", data.tags, limit=MAX_TAGS, max_length=MAX_TAG)
    if data.lifecycle_stage and data.lifecycle_stage not in LIFECYCLE_STAGES:
        check.add("lifecycle_stage", f"must be one of {', '.join(LIFECYCLE_STAGES)}")
    values["lifecycle_stage"] = data.lifecycle_stage
    values["custom_fields"] = _custom_fields(check, data.custom_fields)
    values["external_id"] = check.identifier("external_id", data.external_id, MAX_ID)
    if require_identity and not has_identity(ContactFields(**values)):
        check.add("given_name", "a contact needs at least one of givenName, familyName, email or phone")
    check.raise_if_any()
    return ContactFields(**values)


def has_identity(data: ContactFields) -> bool:
    return bool(data.given_name or data.family_name or data.email or data.phone)


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


def _email(check: Validator, value: str) -> str:
    value = value.strip()
    if not value:
        return ""
    try:
        return email_validator.validate_email(value, check_deliverability=False).normalized
    except email_validator.EmailNotValidError as exc:
        check.add("email", f"not a valid address: {exc}")
        return value


def _phone(check: Validator, value: str) -> str:
    value = value.strip()
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        check.add("phone", "not a phone number; use the international format, e.g. +14155550123")
        return value
    if not phonenumbers.is_valid_number(number):
        check.add("phone", "not a valid phone number for its country code")
        return value
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _custom_fields(check: Validator, values: Mapping[str, Any]) -> dict[str, Any]:
    if len(values) > MAX_CUSTOM_FIELDS:
        check.add("custom_fields", f"at most {MAX_CUSTOM_FIELDS} custom fields")
    for key in values:
        if not CUSTOM_FIELD_KEY.match(key):
            check.add(f"custom_fields.{key}", "names start with a letter and use letters, digits and _ (max 64)")
    if len(json.dumps(values, default=str)) > MAX_CUSTOM_FIELDS_BYTES:
        check.add("custom_fields", f"at most {MAX_CUSTOM_FIELDS_BYTES} bytes in all")
    return dict(values)
