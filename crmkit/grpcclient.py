"""gRPC channels: traced, balanced, with keepalive; service-to-service channels also carry the
caller's identity and a default deadline."""

from __future__ import annotations

import collections
import json
from typing import Any

import grpc
from opentelemetry.instrumentation.grpc import client_interceptor, grpcext

from crmkit import causation
from crmkit.tokens import caller_token

CHANNEL_OPTIONS = [
    # Spread calls over every address a target resolves to: the replicas in an `ipv4:a,b` list,
    # or the pods behind a headless Kubernetes Service dialled as dns:///name:port.
    ("grpc.service_config", json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})),
    # A restarted backend is found again within seconds, not after gRPC's default 2-minute back-off cap.
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
    ("grpc.keepalive_time_ms", 30000),
    ("grpc.keepalive_timeout_ms", 10000),
    ("grpc.enable_retries", 1),
]


def channel(address: str) -> grpc.Channel:
    # OpenTelemetry's interceptor is of its own grpcext kind: it injects traceparent into metadata.
    return grpcext.intercept_channel(grpc.insecure_channel(address, options=CHANNEL_OPTIONS), client_interceptor())


class _CallDetails(
    collections.namedtuple(
        "_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
    ),
    grpc.ClientCallDetails,
):
    pass


class IdentityAndDeadline(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Every service-to-service call carries the identity it acts for, a deadline (DESIGN.md) and
    the causation chain of the work it is part of (crmkit/causation.py)."""

    def __init__(self, deadline_seconds: float) -> None:
        self.deadline = deadline_seconds

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        metadata = list(details.metadata or [])
        if not any(key == "authorization" for key, _ in metadata):
            metadata.append(("authorization", f"Bearer {caller_token()}"))
        chain = causation.current()
        if chain and not any(key == causation.METADATA_KEY for key, _ in metadata):
            metadata.append((causation.METADATA_KEY, causation.to_metadata(chain)))
        timeout = details.timeout if details.timeout is not None else self.deadline
        return continuation(
            _CallDetails(
                details.method, timeout, metadata, details.credentials, details.wait_for_ready, details.compression
            ),
            request,
        )


def service_channel(address: str, deadline_seconds: float) -> grpc.Channel:
    """A channel for one service calling another on behalf of the caller it is serving (or of
    the identity bound by tokens.acting_as for background work)."""
    return grpc.intercept_channel(channel(address), IdentityAndDeadline(deadline_seconds))
