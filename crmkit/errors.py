"""Errors domain code raises. Pure Python: the gRPC layer maps them to status codes and the
gateway maps those to HTTP (API.md), so a rule written once reads the same on every surface."""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import email_validator
import phonenumbers

# email-validator spends two thirds of an address on its domain (IDNA and UTS 46 checks, character
# by character), and the addresses of a contact list share a handful of domains. The domain's check
# depends only on its arguments, so it is memoised where validate_email looks it up; failures are
# not cached and raise every time. tests/unit/test_validation_caches.py fails if an upgrade of the
# library moves the function (docs/adr/0077).
_EMAIL_MODULE = sys.modules["email_validator.validate_email"]
_EMAIL_MODULE.validate_email_domain_name = functools.lru_cache(maxsize=4096)(  # type: ignore[attr-defined]
    _EMAIL_MODULE.validate_email_domain_name
)


@functools.lru_cache(maxsize=65536)
def _e164(value: str) -> tuple[str, str]:
    """A phone number as (E.164, '') or ('', the problem). Memoised: an import repeats numbers
    (switchboards, placeholders) and phonenumbers takes ~20 us to parse and check one."""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return "", "not a phone number; use the international format, e.g. +14155550123"
    if not phonenumbers.is_valid_number(number):
        return "", "not a valid phone number for its country code"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), ""


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class ServiceError(Exception):
    grpc_code = "INTERNAL"

    def __init__(self, message: str, violations: list[FieldViolation] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.violations = list(violations or [])


class InvalidArgument(ServiceError):
    grpc_code = "INVALID_ARGUMENT"

    @classmethod
    def of(cls, violations: list[FieldViolation]) -> InvalidArgument:
        summary = "; ".join(f"{v.field}: {v.description}" for v in violations)
        return cls(summary, violations)


class NotFound(ServiceError):
    grpc_code = "NOT_FOUND"

    @classmethod
    def resource(cls, kind: str, resource_id: str) -> NotFound:
        return cls(f"{kind} {resource_id} not found")


class AlreadyExists(ServiceError):
    grpc_code = "ALREADY_EXISTS"


class FailedPrecondition(ServiceError):
    grpc_code = "FAILED_PRECONDITION"


class Aborted(ServiceError):
    """A concurrent change won (etag mismatch): the caller should re-read and retry."""

    grpc_code = "ABORTED"


class Unavailable(ServiceError):
    """A service this one depends on did not answer: nothing was decided, retrying may work."""

    grpc_code = "UNAVAILABLE"


class PermissionDenied(ServiceError):
    grpc_code = "PERMISSION_DENIED"


class Unauthenticated(ServiceError):
    grpc_code = "UNAUTHENTICATED"


# Control characters: none at all in single-line text; tab, newline and carriage return allowed in prose.
SINGLE_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MULTI_LINE_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Validator:
    """Collects every violation of a request so the caller sees all of them at once, and holds the
    input-hygiene checks every service applies the same way (texts, ids, label lists)."""

    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        self.violations.append(FieldViolation(field, description))

    def text(self, field: str, value: str, max_length: int, *, multiline: bool = False) -> str:
        """The value stripped; too long or with control characters is a violation."""
        value = value.strip()
        if len(value) > max_length:
            self.add(field, f"must be at most {max_length} characters")
        if (MULTI_LINE_CONTROL if multiline else SINGLE_LINE_CONTROL).search(value):
            self.add(field, "must not contain control characters")
        return value

    def identifier(self, field: str, value: str, max_length: int = 64) -> str:
        """An optional reference to another resource: printable, no '/', at most `max_length`."""
        value = value.strip()
        if len(value) > max_length or SINGLE_LINE_CONTROL.search(value) or "/" in value:
            self.add(field, f"must be an id of at most {max_length} characters without '/'")
        return value

    def labels(
        self, field: str, items: Sequence[str], *, limit: int, max_length: int, allow_slash: bool = True
    ) -> tuple[str, ...]:
        """A list of short labels (tags, skills, ids): each 1..max_length printable, duplicates dropped."""
        if len(items) > limit:
            self.add(field, f"at most {limit} entries")
        cleaned = [item.strip() for item in items]
        for value in cleaned:
            if (
                not value
                or len(value) > max_length
                or SINGLE_LINE_CONTROL.search(value)
                or (not allow_slash and "/" in value)
            ):
                rule = "" if allow_slash else " without '/'"
                self.add(field, f"each entry must have 1 to {max_length} printable characters{rule}")
                break
        return tuple(dict.fromkeys(cleaned))

    def email(self, field: str, value: str) -> str:
        """An optional email address, normalised (lower-cased domain, IDNA); '' stays ''."""
        value = value.strip()
        if not value:
            return ""
        try:
            return email_validator.validate_email(value, check_deliverability=False).normalized
        except email_validator.EmailNotValidError as exc:
            self.add(field, f"not a valid address: {exc}")
            return value

    def phone(self, field: str, value: str) -> str:
        """An optional phone number in E.164 (it must carry its country code); '' stays ''."""
        value = value.strip()
        if not value:
            return ""
        normalised, problem = _e164(value)
        if problem:
            self.add(field, problem)
            return value
        return normalised

    def raise_if_any(self) -> None:
        if self.violations:
            raise InvalidArgument.of(self.violations)
