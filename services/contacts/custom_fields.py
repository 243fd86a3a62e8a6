"""Custom-field definitions and the check of custom-field values against them. Pure Python, no I/O.

A tenant without any definition for an object type keeps free-form custom fields (the behaviour
before definitions existed); from its first definition on, every key must be defined and every
value must have the defined type (docs/adr/0033).
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from crmkit.errors import Aborted, Validator
from crmkit.etags import etag_of
from crmkit.updates import apply_mask

OBJECT_TYPES = ("CONTACT", "ACCOUNT")
TYPES = ("TEXT", "NUMBER", "DECIMAL", "DATE", "BOOLEAN", "SINGLE_SELECT", "MULTI_SELECT")
SELECTS = ("SINGLE_SELECT", "MULTI_SELECT")
KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
MAX_LABEL = 200
MAX_DESCRIPTION = 2000
MAX_OPTIONS = 200
MAX_OPTION = 100
MAX_TEXT = 1000
MAX_DECIMAL_DIGITS = 38
SYSTEM_FIELDS = frozenset({"id", "create_time", "update_time", "etag"})
FIXED_FIELDS = ("object_type", "key")


@dataclass(frozen=True)
class DefinitionFields:
    object_type: str = ""
    key: str = ""
    label: str = ""
    type: str = ""
    options: tuple[str, ...] = ()
    required: bool = False
    description: str = ""


@dataclass(frozen=True)
class Definition:
    id: str
    tenant_id: str
    data: DefinitionFields
    create_time: dt.datetime
    update_time: dt.datetime
    etag: str


# key -> definition, for one tenant and object type; empty means "free-form".
Schema = Mapping[str, DefinitionFields]


def normalise(data: DefinitionFields) -> DefinitionFields:
    check = Validator()
    if data.object_type not in OBJECT_TYPES:
        check.add("object_type", f"must be one of {', '.join(OBJECT_TYPES)}")
    key = data.key.strip()
    if not KEY.match(key):
        check.add("key", "is required: a letter, then letters, digits or _ (at most 64)")
    if data.type not in TYPES:
        check.add("type", f"must be one of {', '.join(TYPES)}")
    label = check.text("label", data.label, MAX_LABEL)
    description = check.text("description", data.description, MAX_DESCRIPTION, multiline=True)
    options = check.labels("options", data.options, limit=MAX_OPTIONS, max_length=MAX_OPTION)
    if data.type in SELECTS and not options:
        check.add("options", "a select needs at least one option")
    if data.type not in SELECTS and options:
        check.add("options", "only selects have options")
    check.raise_if_any()
    return replace(data, key=key, label=label or key, description=description, options=options)


def new_definition(definition_id: str, tenant_id: str, data: DefinitionFields, now: dt.datetime) -> Definition:
    data = normalise(data)
    return Definition(definition_id, tenant_id, data, now, now, etag_of(definition_id, data, now))


def apply_update(
    current: Definition, patch: DefinitionFields, mask: Sequence[str], now: dt.datetime
) -> tuple[Definition, list[str]]:
    merged, changed = apply_mask(current.data, patch, mask, normalise, SYSTEM_FIELDS)
    check = Validator()
    for name in FIXED_FIELDS:
        if name in changed:
            check.add(name, "is fixed once the definition exists; create another definition instead")
    check.raise_if_any()
    if not changed:
        return current, []
    return replace(current, data=merged, update_time=now, etag=etag_of(current.id, merged, now)), changed


def check_etag(definition: Definition, expected: str) -> None:
    if expected and expected != definition.etag:
        raise Aborted(f"custom field definition {definition.id} was changed since etag {expected}; read it again")


def check_values(
    check: Validator,
    schema: Schema,
    values: Mapping[str, Any],
    *,
    previous: Mapping[str, Any] | None = None,
    field: str = "custom_fields",
) -> dict[str, Any]:
    """The values in their stored form, each violation added to `check` naming `custom_fields.<key>`.

    `previous` is None on create (every required field must be there); on update a required value
    that was there may not be removed.
    """
    if not schema:
        return dict(values)
    stored: dict[str, Any] = {}
    for key, value in values.items():
        definition = schema.get(key)
        name = f"{field}.{key}"
        if definition is None:
            check.add(name, f"unknown custom field; defined: {', '.join(sorted(schema)) or 'none'}")
            continue
        if value is None:
            continue
        stored[key] = _typed(check, name, definition, value)
    for key, definition in schema.items():
        if not definition.required or stored.get(key) not in (None, "", []):
            continue
        if previous is None or previous.get(key) not in (None, "", []):
            check.add(f"{field}.{key}", "is required")
    return stored


def _typed(check: Validator, name: str, definition: DefinitionFields, value: Any) -> Any:
    kind = definition.type
    if kind == "TEXT":
        if not isinstance(value, str):
            check.add(name, "must be text")
            return value
        return check.text(name, value, MAX_TEXT)
    if kind == "NUMBER":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            check.add(name, "must be a number")
            return value
        return int(value) if float(value).is_integer() and abs(value) < 2**53 else value
    if kind == "DECIMAL":
        return _decimal(check, name, value)
    if kind == "DATE":
        try:
            return dt.date.fromisoformat(value).isoformat() if isinstance(value, str) and len(value) == 10 else _bad()
        except ValueError:
            check.add(name, 'must be an ISO 8601 date, e.g. "2026-01-31"')
            return value
    if kind == "BOOLEAN":
        if not isinstance(value, bool):
            check.add(name, "must be true or false")
        return value
    if kind == "SINGLE_SELECT":
        if not isinstance(value, str) or value not in definition.options:
            check.add(name, f"must be one of {', '.join(definition.options)}")
        return value
    if not isinstance(value, list) or not all(isinstance(v, str) and v in definition.options for v in value):
        check.add(name, f"must be a list of options from {', '.join(definition.options)}")
        return value
    return list(dict.fromkeys(value))


def _bad() -> Any:
    raise ValueError


def _decimal(check: Validator, name: str, value: Any) -> Any:
    """Decimals travel and are stored as strings so that no digit is lost ("1234.50" stays so)."""
    message = 'must be a decimal number written as a string, e.g. "1234.50"'
    if not isinstance(value, str):
        check.add(name, message)
        return value
    try:
        number = decimal.Decimal(value.strip())
    except decimal.InvalidOperation:
        check.add(name, message)
        return value
    digits = number.as_tuple().digits
    if not number.is_finite() or len(digits) > MAX_DECIMAL_DIGITS or abs(number.adjusted()) > 30:
        check.add(name, f"must be finite with at most {MAX_DECIMAL_DIGITS} digits")
        return value
    return str(number)


def value_is_used(values: Mapping[str, Any], key: str) -> bool:
    return values.get(key) not in (None, "", [])


TRUE_WORDS = frozenset({"true", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "no", "n", "0"})


def from_text(definition: DefinitionFields | None, text: str) -> Any:
    """A value written as text (a CSV cell) in the JSON form its definition expects, for the usual
    checks to judge: numbers and booleans parsed, multi-selects split on ";". Text that does not
    parse is passed on unchanged, so the check reports it naming the field."""
    if definition is None:
        return text
    kind = definition.type
    if kind == "NUMBER":
        try:
            number = float(text)
        except ValueError:
            return text
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if kind == "BOOLEAN":
        word = text.strip().lower()
        return True if word in TRUE_WORDS else False if word in FALSE_WORDS else text
    if kind == "MULTI_SELECT":
        return [part.strip() for part in text.split(";") if part.strip()]
    return text
