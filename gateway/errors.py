"""One JSON error shape for every failure (API.md, AIP-193), and gRPC status -> HTTP."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from crmkit.errors import FieldViolation, ServiceError
from gateway.routes import camel

GRPC_TO_HTTP = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
HTTP_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    409: "ABORTED",
    413: "RESOURCE_EXHAUSTED",
    415: "INVALID_ARGUMENT",
    422: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
# Server-side failures say no more than this: no internals reach a caller.
INTERNAL_MESSAGE = "internal error; the request id identifies it in our logs"


@dataclass
class ApiError(Exception):
    http_status: int
    message: str
    status: str = ""
    violations: list[FieldViolation] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "code": self.http_status,
            "status": self.status or HTTP_STATUS_NAMES.get(self.http_status, "INTERNAL"),
            "message": self.message,
        }
        if self.violations:
            error["details"] = [{"field": camel(v.field), "description": v.description} for v in self.violations]
        return {"error": error}

    @classmethod
    def from_service_error(cls, exc: ServiceError) -> ApiError:
        code = grpc.StatusCode[exc.grpc_code]
        return cls(GRPC_TO_HTTP.get(code, 500), exc.message, exc.grpc_code, exc.violations)

    @classmethod
    def from_rpc_error(cls, exc: grpc.RpcError) -> ApiError:
        code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
        http = GRPC_TO_HTTP.get(code, 500)
        if http == 500:
            return cls(500, INTERNAL_MESSAGE, "INTERNAL")
        if code == grpc.StatusCode.UNAVAILABLE:
            return cls(503, "the service is unavailable; retry shortly", code.name, headers={"Retry-After": "1"})
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return cls(504, "the service did not answer in time", code.name, headers={"Retry-After": "1"})
        return cls(http, _scrub(exc.details() or code.name.lower()), code.name, _violations(exc))


# gRPC's own messages (as opposed to our services') can name peers: "ipv4:10.0.3.7:50051".
_ADDRESS = re.compile(r"\b(?:ipv[46]:)?(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?|\[[0-9a-fA-F:]+\](?::\d+)?|\b(?:unix|dns):\S+")


def _scrub(message: str) -> str:
    return _ADDRESS.sub("<address>", message)


def _violations(exc: grpc.RpcError) -> list[FieldViolation]:
    try:
        status = rpc_status.from_call(exc)  # type: ignore[arg-type]
    except ValueError:
        return []
    found = []
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            found += [FieldViolation(v.field, v.description) for v in bad_request.field_violations]
    return found
