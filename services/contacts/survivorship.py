"""Which values survive a merge (docs/adr/0037). Pure Python, no I/O.

Defaults: the winner's non-empty value stays, else the most recently updated loser's; tags and
account ids are united (winner's first); custom fields are merged key by key the same way. An
explicit choice (field -> contact id) takes that contact's value, even an empty one. No address
or number is lost: every email and phone of the merged contacts that is not the surviving primary
one becomes a further one (winner's first).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from itertools import chain
from typing import Any

from crmkit.errors import FieldViolation, InvalidArgument
from services.contacts.domain import Association, Contact, ContactFields, others_than

SCALAR_FIELDS = {
    "givenName": "given_name",
    "familyName": "family_name",
    "email": "email",
    "phone": "phone",
    "title": "title",
    "ownerId": "owner_id",
    "lifecycleStage": "lifecycle_stage",
}
CUSTOM_PREFIX = "customFields."


def survivors(
    winner: Contact, losers: Sequence[Contact], choices: Mapping[str, str]
) -> tuple[ContactFields, dict[str, str]]:
    """The winner's fields after the merge, and where each non-empty one came from (field -> id)."""
    by_id = {c.id: c for c in [winner, *losers]}
    problems = [
        FieldViolation(f"fieldChoices.{name}", f"{source} is neither the winner nor a loser of this merge")
        for name, source in choices.items()
        if source not in by_id
    ]
    problems += [
        FieldViolation(f"fieldChoices.{name}", "not a field a merge can choose")
        for name in choices
        if name not in SCALAR_FIELDS and not name.startswith(CUSTOM_PREFIX)
    ]
    if problems:
        raise InvalidArgument.of(problems)
    # Winner first, then losers from the most recently updated.
    ordered = [winner, *sorted(losers, key=lambda c: (c.update_time, c.id), reverse=True)]
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for api_name, attribute in SCALAR_FIELDS.items():
        if api_name in choices:
            source = by_id[choices[api_name]]
        else:
            source = next((c for c in ordered if getattr(c.data, attribute)), winner)
        values[attribute] = getattr(source.data, attribute)
        if values[attribute]:
            sources[api_name] = source.id
    custom: dict[str, Any] = {}
    for contact in reversed(ordered):  # the winner's keys written last, so they win
        custom.update({k: v for k, v in contact.data.custom_fields.items() if v not in (None, "")})
    for name, source_id in choices.items():
        if name.startswith(CUSTOM_PREFIX):
            key = name[len(CUSTOM_PREFIX) :]
            chosen = by_id[source_id].data.custom_fields
            if key in chosen:
                custom[key] = chosen[key]
            else:
                custom.pop(key, None)
    merged = replace(
        winner.data,
        **values,
        tags=_union(c.data.tags for c in ordered),
        account_ids=_union(c.data.account_ids for c in ordered),
        account_associations=_united_associations(ordered),
        custom_fields=custom,
        additional_emails=others_than(values["email"], chain(*(c.data.emails for c in ordered)), str.lower),
        additional_phones=others_than(values["phone"], chain(*(c.data.phones for c in ordered)), str),
    )
    return merged, sources


def _united_associations(ordered: Sequence[Contact]) -> tuple[Association, ...]:
    """Every account of every contact once, with the label it had first (the winner's first); the
    first primary association stays primary, any later one becomes a plain link."""
    united: dict[str, Association] = {}
    has_primary = False
    for contact in ordered:
        for association in contact.data.account_associations:
            if association.account_id in united:
                continue
            primary = association.primary and not has_primary
            has_primary = has_primary or primary
            united[association.account_id] = association._replace(primary=primary)
    return tuple(united.values())


def _union(lists: Any) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for values in lists:
        for value in values:
            seen.setdefault(value, None)
    return tuple(seen)
