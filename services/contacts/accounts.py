"""Account rules: validation, normalisation (domain, address), updates and etags. Pure Python, no I/O."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import idna
import pycountry

from crmkit.errors import Aborted, Validator
from crmkit.etags import etag_of
from crmkit.updates import apply_mask
from services.contacts import custom_fields
from services.contacts.domain import MAX_ID, _custom_fields

MAX_NAME = 200
MAX_INDUSTRY = 100
MAX_EXTERNAL_ID = 200
MAX_ADDRESS_LINES = 5
MAX_ADDRESS_TEXT = 200
MAX_EMPLOYEES = 10_000_000
SYSTEM_FIELDS = frozenset({"id", "create_time", "update_time", "etag"})
_PORT = re.compile(r":\d*$")


class Address(NamedTuple):
    address_lines: tuple[str, ...] = ()
    locality: str = ""
    administrative_area: str = ""
    postal_code: str = ""
    # ISO 3166-1 alpha-2, upper case.
    region_code: str = ""

    def __bool__(self) -> bool:  # an empty address is "not given" in an update without a mask
        return any(self)


@dataclass(frozen=True)
class AccountFields:
    """What a caller may write."""

    name: str = ""
    domain: str = ""
    industry: str = ""
    employee_count: int = 0
    address: Address = field(default_factory=Address)
    owner_id: str = ""
    custom_fields: Mapping[str, Any] = field(default_factory=dict)
    external_id: str = ""


@dataclass(frozen=True)
class Account:
    id: str
    tenant_id: str
    data: AccountFields
    create_time: dt.datetime
    update_time: dt.datetime
    etag: str


def normalise(
    data: AccountFields, schema: custom_fields.Schema | None = None, previous: AccountFields | None = None
) -> AccountFields:
    """Every field checked at once; `schema` checks custom fields against the tenant's definitions."""
    check = Validator()
    name = check.text("name", data.name, MAX_NAME)
    if not name:
        check.add("name", "is required")
    values: dict[str, Any] = {
        "name": name,
        "domain": normalise_domain(check, data.domain),
        "industry": check.text("industry", data.industry, MAX_INDUSTRY),
        "employee_count": data.employee_count,
        "address": _address(check, data.address),
        "owner_id": check.identifier("owner_id", data.owner_id, MAX_ID),
        "external_id": check.identifier("external_id", data.external_id, MAX_EXTERNAL_ID),
    }
    if not 0 <= data.employee_count <= MAX_EMPLOYEES:
        check.add("employee_count", f"must be between 0 and {MAX_EMPLOYEES}")
    values["custom_fields"] = custom_fields.check_values(
        check,
        schema or {},
        _custom_fields(check, data.custom_fields),
        previous=None if previous is None else previous.custom_fields,
    )
    check.raise_if_any()
    return AccountFields(**values)


def normalise_domain(check: Validator, value: str) -> str:
    """`https://WWW.Bücher.example:443/x` -> `xn--bcher-kva.example`: the host alone, lower case, IDNA."""
    host = value.strip().lower()
    if not host:
        return ""
    if "://" in host:
        host = host.split("://", 1)[1]
    host = re.split(r"[/?#]", host, maxsplit=1)[0]
    host = _PORT.sub("", host).rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    problem = "must be a domain name such as acme.com"
    if "@" in host or "." not in host or len(host) > 253:
        check.add("domain", problem)
        return value.strip()
    try:
        encoded = idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        check.add("domain", problem)
        return value.strip()
    if not re.fullmatch(r"[a-z0-9.\-]+", encoded) or encoded.split(".")[-1].isdigit():
        check.add("domain", problem)
        return value.strip()
    return encoded


def _address(check: Validator, address: Address) -> Address:
    lines = tuple(check.text("address.address_lines", line, MAX_ADDRESS_TEXT) for line in address.address_lines)
    if len(lines) > MAX_ADDRESS_LINES:
        check.add("address.address_lines", f"at most {MAX_ADDRESS_LINES} lines")
    region = address.region_code.strip().upper()
    if region and (len(region) != 2 or pycountry.countries.get(alpha_2=region) is None):
        check.add("address.region_code", 'must be an ISO 3166-1 alpha-2 country code, e.g. "DE"')
    return Address(
        tuple(line for line in lines if line),
        check.text("address.locality", address.locality, MAX_ADDRESS_TEXT),
        check.text("address.administrative_area", address.administrative_area, MAX_ADDRESS_TEXT),
        check.text("address.postal_code", address.postal_code, 40),
        region,
    )


def new_account(
    account_id: str, tenant_id: str, data: AccountFields, now: dt.datetime, schema: custom_fields.Schema | None = None
) -> Account:
    data = normalise(data, schema)
    return Account(account_id, tenant_id, data, now, now, compute_etag(account_id, data, now))


def apply_update(
    account: Account, patch: AccountFields, mask: Sequence[str], now: dt.datetime, schema: custom_fields.Schema | None
) -> tuple[Account, list[str]]:
    """The account with the masked fields from `patch`; an empty mask means the populated ones (AIP-134)."""
    merged, changed = apply_mask(account.data, patch, mask, lambda d: normalise(d, schema, account.data), SYSTEM_FIELDS)
    if not changed:
        return account, []
    return replace(account, data=merged, update_time=now, etag=compute_etag(account.id, merged, now)), changed


def check_etag(account: Account, expected: str) -> None:
    if expected and expected != account.etag:
        raise Aborted(f"account {account.id} was changed since etag {expected}; read it again and retry")


def compute_etag(account_id: str, data: AccountFields, update_time: dt.datetime) -> str:
    return etag_of(account_id, data, update_time)


def search_text(data: AccountFields) -> str:
    """What free text `q` is matched against: name and domain, lower case."""
    return f"{data.name} {data.domain}".lower()
