"""Errors domain code raises. Pure Python: the gRPC layer maps them to status codes and the
gateway maps those to HTTP (API.md), so a rule written once reads the same on every surface."""

from __future__ import annotations

from dataclasses import dataclass


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


class PermissionDenied(ServiceError):
    grpc_code = "PERMISSION_DENIED"


class Unauthenticated(ServiceError):
    grpc_code = "UNAUTHENTICATED"


class Validator:
    """Collects every violation of a request so the caller sees all of them at once."""

    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        self.violations.append(FieldViolation(field, description))

    def raise_if_any(self) -> None:
        if self.violations:
            raise InvalidArgument.of(self.violations)
