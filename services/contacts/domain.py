"""Contact rules: validation, normalisation, updates and etags. Pure Python, no I/O."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, NamedTuple

from crmkit.errors import Aborted, Validator
from crmkit.etags import etag_of
from crmkit.updates import apply_mask
from services.contacts.custom_fields import check_values

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
MAX_ASSOCIATION_LABEL = 100
MAX_ADDITIONAL = 10

if TYPE_CHECKING:
    from services.contacts.custom_fields import Schema


class Association(NamedTuple):
    """A contact's labelled link to an account (docs/adr/0032)."""

    account_id: str
    label: str = ""
    primary: bool = False


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
    # The source of truth for the contact's accounts; account_ids mirrors it (same ids, same order).
    account_associations: tuple[Association, ...] = ()
    # The caller's own id for the contact; unique per tenant when set (imports match by it).
    external_id: str = ""
    # Further addresses and numbers; `email` and `phone` are the primary ones.
    additional_emails: tuple[str, ...] = ()
    additional_phones: tuple[str, ...] = ()

    @property
    def emails(self) -> tuple[str, ...]:
        """Every address of the contact, the primary one first."""
        return tuple(e for e in (self.email, *self.additional_emails) if e)

    @property
    def phones(self) -> tuple[str, ...]:
        return tuple(p for p in (self.phone, *self.additional_phones) if p)


@dataclass(frozen=True)
class Contact:
    id: str
    tenant_id: str
    data: ContactFields
    create_time: dt.datetime
    update_time: dt.datetime
    etag: str


def normalise(
    data: ContactFields,
    schema: Schema | None = None,
    previous: ContactFields | None = None,
    *,
    require_identity: bool = True,
    contact_points_normalised: bool = False,
) -> ContactFields:
    """Validate every field at once and return the normalised copy (E.164 phones, canonical emails).

    Every write path calls this (create, update, each imported row). `schema` holds the tenant's
    custom-field definitions for contacts; `previous` is the contact before an update (None on
    create). `require_identity=False` skips only the "needs a name, email or phone" rule: an
    imported row that updates an existing contact may carry just the fields it changes.
    `contact_points_normalised=True` takes the emails and phones as they are: they came out of this
    function already (an import's staged rows, checked when the file was read; parsing them is
    most of the cost of a row).
    """
    check = Validator()
    values: dict[str, Any] = {}
    for name in ("given_name", "family_name", "title"):
        values[name] = check.text(name, getattr(data, name), MAX_NAME)
    if contact_points_normalised:
        values["email"], values["phone"] = data.email, data.phone
        values["additional_emails"], values["additional_phones"] = data.additional_emails, data.additional_phones
    else:
        values["email"] = check.email("email", data.email)
        values["phone"] = check.phone("phone", data.phone)
        values["additional_emails"] = _additional(check, "additional_emails", data.additional_emails, check.email)
        values["additional_phones"] = _additional(check, "additional_phones", data.additional_phones, check.phone)
    # A further address equal to the primary one says nothing new (emails compared without case).
    values["additional_emails"] = others_than(values["email"], values["additional_emails"], str.lower)
    values["additional_phones"] = others_than(values["phone"], values["additional_phones"], str)
    values["owner_id"] = check.identifier("owner_id", data.owner_id, MAX_ID)
    values["account_ids"] = check.labels(
        "account_ids", data.account_ids, limit=MAX_ACCOUNTS, max_length=MAX_ID, allow_slash=False
    )
    values["tags"] = check.labels("tags", data.tags, limit=MAX_TAGS, max_length=MAX_TAG)
    if data.lifecycle_stage and data.lifecycle_stage not in LIFECYCLE_STAGES:
        check.add("lifecycle_stage", f"must be one of {', '.join(LIFECYCLE_STAGES)}")
    values["lifecycle_stage"] = data.lifecycle_stage
    values["custom_fields"] = check_values(
        check,
        schema or {},
        _custom_fields(check, data.custom_fields),
        previous=None if previous is None else previous.custom_fields,
    )
    values["account_associations"] = _associations(check, data.account_associations, values["account_ids"])
    values["account_ids"] = tuple(a.account_id for a in values["account_associations"])
    values["external_id"] = check.identifier("external_id", data.external_id, MAX_ID)
    if require_identity and not has_identity(ContactFields(**values)):
        check.add("given_name", "a contact needs at least one of givenName, familyName, email or phone")
    check.raise_if_any()
    return ContactFields(**values)


def has_identity(data: ContactFields) -> bool:
    return bool(data.given_name or data.family_name or data.emails or data.phones)


def _additional(check: Validator, name: str, items: Sequence[str], normalise: Any) -> tuple[str, ...]:
    """Further emails or phones: each normalised (its error names its position), empties refused."""
    if len(items) > MAX_ADDITIONAL:
        check.add(name, f"at most {MAX_ADDITIONAL} entries")
    cleaned = []
    for index, item in enumerate(items):
        if not item.strip():
            check.add(f"{name}[{index}]", "must not be empty")
            continue
        cleaned.append(normalise(f"{name}[{index}]", item))
    return tuple(cleaned)


def others_than(primary: str, items: Iterable[str], key: Callable[[str], str]) -> tuple[str, ...]:
    """The items without the primary value and without repeats (compared by key), in order."""
    seen = {key(primary)} if primary else set()
    kept = []
    for item in items:
        if key(item) not in seen:
            seen.add(key(item))
            kept.append(item)
    return tuple(kept)


def new_contact(
    contact_id: str, tenant_id: str, data: ContactFields, now: dt.datetime, schema: Schema | None = None
) -> Contact:
    data = normalise(data, schema)
    return Contact(contact_id, tenant_id, data, now, now, compute_etag(contact_id, data, now))


def apply_update(
    contact: Contact, patch: ContactFields, mask: Sequence[str], now: dt.datetime, schema: Schema | None = None
) -> tuple[Contact, list[str]]:
    """The contact with the masked fields taken from `patch`, and the names of the fields that changed.

    An empty mask means every populated field of the patch (AIP-134). Writing account_ids alone
    (without account_associations) replaces the associations, keeping the label and primary flag of
    the accounts that stay.
    """
    patch, mask = _account_ids_as_associations(contact.data, patch, mask)
    merged, changed = apply_mask(contact.data, patch, mask, lambda d: normalise(d, schema, contact.data), SYSTEM_FIELDS)
    if not changed:
        return contact, []
    updated = replace(contact, data=merged, update_time=now, etag=compute_etag(contact.id, merged, now))
    return updated, changed


def _account_ids_as_associations(
    current: ContactFields, patch: ContactFields, mask: Sequence[str]
) -> tuple[ContactFields, list[str]]:
    """account_ids and account_associations are one thing: whichever is written sets both."""
    paths = list(mask) if mask else [f.name for f in fields(patch) if getattr(patch, f.name)]
    if "account_ids" not in paths and "account_associations" not in paths:
        return patch, list(mask)
    associations = patch.account_associations
    if "account_associations" not in paths:  # ids alone: keep what is known of the accounts that stay
        kept = {a.account_id: a for a in current.account_associations}
        associations = tuple(kept.get(i.strip(), Association(i)) for i in patch.account_ids)
    patch = replace(
        patch, account_associations=associations, account_ids=tuple(a.account_id.strip() for a in associations)
    )
    others = [p for p in paths if p not in ("account_ids", "account_associations")]
    return patch, [*others, "account_associations", "account_ids"]


def _associations(
    check: Validator, associations: Sequence[Association], account_ids: Sequence[str]
) -> tuple[Association, ...]:
    """The associations checked; without any, the account_ids written alone become unlabelled ones."""
    if not associations:
        return tuple(Association(i) for i in account_ids)
    if len(associations) > MAX_ACCOUNTS:
        check.add("accountAssociations", f"at most {MAX_ACCOUNTS} entries")
    cleaned: list[Association] = []
    seen: set[str] = set()
    for index, association in enumerate(associations):
        name = f"accountAssociations[{index}]"
        account_id = association.account_id.strip()
        if not account_id:
            check.add(f"{name}.accountId", "is required")
        elif account_id != check.identifier(f"{name}.accountId", account_id, MAX_ID):
            pass
        elif account_id in seen:
            check.add(f"{name}.accountId", "is already associated above; each account at most once")
        seen.add(account_id)
        label = check.text(f"{name}.label", association.label, MAX_ASSOCIATION_LABEL)
        cleaned.append(Association(account_id, label, bool(association.primary)))
    primaries = [i for i, a in enumerate(cleaned) if a.primary]
    if len(primaries) > 1:
        check.add(f"accountAssociations[{primaries[1]}].primary", "at most one association is primary")
    return tuple(cleaned)


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
