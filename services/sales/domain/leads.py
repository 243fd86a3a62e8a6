"""Leads: validation, the status lifecycle, updates, history entries and etags."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from crmkit.errors import Aborted, FieldViolation, InvalidArgument, Validator
from crmkit.etags import etag_of
from crmkit.updates import apply_mask

MAX_NAME = 200
MAX_SOURCE = 64
MAX_SIZE = 32
MAX_ID = 64
MAX_ATTRIBUTES = 100
MAX_ATTRIBUTES_BYTES = 16 * 1024
ATTRIBUTE_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
COUNTRY = re.compile(r"^[A-Z]{2}$")
STATUSES = ("new", "working", "qualified", "disqualified", "converted")
# Where a caller may move a lead from each status; "converted" only through ConvertLead.
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"working", "qualified", "disqualified"}),
    "working": frozenset({"qualified", "disqualified"}),
    "qualified": frozenset({"working", "disqualified"}),
    "disqualified": frozenset({"working"}),
    "converted": frozenset(),
}
# Leads that still need a rep's work: they count against the rep's capacity.
OPEN_STATUSES = frozenset({"new", "working", "qualified"})
# Output-only or concurrency fields: ignored in an update mask (AIP-161).
SYSTEM_FIELDS = frozenset(
    {"id", "create_time", "update_time", "etag", "score", "contact_id", "account_id", "opportunity_id", "history"}
)


@dataclass(frozen=True)
class LeadFields:
    """What a caller may write."""

    given_name: str = ""
    family_name: str = ""
    email: str = ""
    phone: str = ""
    company: str = ""
    title: str = ""
    source: str = ""
    country: str = ""
    industry: str = ""
    company_size: str = ""
    custom_attributes: Mapping[str, Any] = field(default_factory=dict)
    status: str = ""
    owner_id: str = ""

    def attribute(self, name: str) -> str:
        """An attribute rules may test (camelCase API name), as lower-cased text ('' when unset)."""
        if name.startswith("customAttributes."):
            value = self.custom_attributes.get(name.split(".", 1)[1], "")
            return "" if value is None else str(value).strip().lower()
        column = RULE_ATTRIBUTES.get(name)
        return str(getattr(self, column)).strip().lower() if column else ""


# Attributes assignment and scoring rules may test: API name -> field.
RULE_ATTRIBUTES = {
    "country": "country",
    "industry": "industry",
    "companySize": "company_size",
    "source": "source",
    "title": "title",
    "company": "company",
}


def check_rule_attribute(check: Validator, field_name: str, name: str) -> None:
    if name in RULE_ATTRIBUTES:
        return
    if name.startswith("customAttributes.") and ATTRIBUTE_KEY.match(name.split(".", 1)[1]):
        return
    check.add(field_name, f"must be one of {', '.join(RULE_ATTRIBUTES)} or customAttributes.<key>")


@dataclass(frozen=True)
class Conversion:
    contact_id: str = ""
    account_id: str = ""
    opportunity_id: str = ""


@dataclass(frozen=True)
class Lead:
    id: str
    tenant_id: str
    data: LeadFields
    create_time: dt.datetime
    update_time: dt.datetime
    etag: str
    converted: Conversion = Conversion()


@dataclass(frozen=True)
class HistoryEntry:
    time: dt.datetime
    kind: str
    message: str
    actor: str = ""
    score_delta: int = 0
    score: int = 0


def normalise(data: LeadFields) -> LeadFields:
    """Validate every field at once and return the normalised copy."""
    check = Validator()
    values: dict[str, Any] = {}
    for name in ("given_name", "family_name", "company", "title", "industry"):
        values[name] = check.text(name, getattr(data, name), MAX_NAME)
    values["source"] = check.text("source", data.source, MAX_SOURCE)
    values["company_size"] = check.text("company_size", data.company_size, MAX_SIZE)
    values["email"] = check.email("email", data.email)
    values["phone"] = check.phone("phone", data.phone)
    country = data.country.strip().upper()
    if country and not COUNTRY.match(country):
        check.add("country", "an ISO 3166-1 alpha-2 code such as DE or US")
    values["country"] = country
    values["owner_id"] = check.identifier("owner_id", data.owner_id, MAX_ID)
    status = data.status.strip().lower() or "new"
    if status not in STATUSES:
        check.add("status", f"must be one of {', '.join(STATUSES)}")
    values["status"] = status
    values["custom_attributes"] = _attributes(check, data.custom_attributes)
    if not any(values[n] for n in ("given_name", "family_name", "email", "phone", "company")):
        check.add("given_name", "a lead needs at least one of givenName, familyName, email, phone or company")
    check.raise_if_any()
    return LeadFields(**values)


def new_lead(lead_id: str, tenant_id: str, data: LeadFields, now: dt.datetime) -> Lead:
    data = normalise(data)
    if data.status != "new":
        raise InvalidArgument.of([FieldViolation("status", "a new lead starts as new")])
    return Lead(lead_id, tenant_id, data, now, now, compute_etag(lead_id, data, now))


def apply_update(lead: Lead, patch: LeadFields, mask: Sequence[str], now: dt.datetime) -> tuple[Lead, list[str]]:
    """The lead with the masked fields from `patch`, and the fields that changed; a status move the
    lifecycle does not allow is refused naming `status`."""
    if lead.data.status == "converted":
        raise InvalidArgument.of([FieldViolation("status", "a converted lead can no longer be changed")])
    merged, changed = apply_mask(lead.data, patch, mask, normalise, SYSTEM_FIELDS)
    if "status" in changed:
        check_transition(lead.data.status, merged.status)
    if not changed:
        return lead, []
    updated = replace(lead, data=merged, update_time=now, etag=compute_etag(lead.id, merged, now))
    return updated, changed


def check_transition(current: str, wanted: str) -> None:
    if wanted not in TRANSITIONS.get(current, frozenset()):
        allowed = ", ".join(sorted(TRANSITIONS.get(current, frozenset()))) or "nothing (converted is final)"
        raise InvalidArgument.of(
            [FieldViolation("status", f"a {current} lead cannot become {wanted}; allowed: {allowed}")]
        )


def converted(lead: Lead, conversion: Conversion, now: dt.datetime) -> Lead:
    data = replace(lead.data, status="converted")
    return replace(lead, data=data, converted=conversion, update_time=now, etag=compute_etag(lead.id, data, now))


def assigned(lead: Lead, owner_id: str, now: dt.datetime) -> Lead:
    data = replace(lead.data, owner_id=owner_id)
    return replace(lead, data=data, update_time=now, etag=compute_etag(lead.id, data, now))


def check_etag(lead: Lead, expected: str) -> None:
    if expected and expected != lead.etag:
        raise Aborted(f"lead {lead.id} was changed since etag {expected}; read it again and retry")


def compute_etag(lead_id: str, data: LeadFields, update_time: dt.datetime) -> str:
    return etag_of(lead_id, data, update_time)


def _attributes(check: Validator, values: Mapping[str, Any]) -> dict[str, Any]:
    if len(values) > MAX_ATTRIBUTES:
        check.add("custom_attributes", f"at most {MAX_ATTRIBUTES} custom attributes")
    for key in values:
        if not ATTRIBUTE_KEY.match(key):
            check.add(f"custom_attributes.{key}", "names start with a letter and use letters, digits and _ (max 64)")
    encoded = json.dumps(values, default=str)
    if len(encoded) > MAX_ATTRIBUTES_BYTES:
        check.add("custom_attributes", f"at most {MAX_ATTRIBUTES_BYTES} bytes in all")
    if "\\u0000" in encoded:  # PostgreSQL's JSON cannot hold a NUL character
        check.add("custom_attributes", "must not contain NUL characters")
    return dict(values)
