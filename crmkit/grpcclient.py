"""gRPC channels: traced, with keepalive; callers always pass a deadline (timeout=)."""

from __future__ import annotations

import grpc
from opentelemetry.instrumentation.grpc import client_interceptor, grpcext

CHANNEL_OPTIONS = [
    ("grpc.keepalive_time_ms", 30000),
    ("grpc.keepalive_timeout_ms", 10000),
    ("grpc.enable_retries", 1),
]


def channel(address: str) -> grpc.Channel:
    # OpenTelemetry's interceptor is of its own grpcext kind: it injects traceparent into metadata.
    return grpcext.intercept_channel(grpc.insecure_channel(address, options=CHANNEL_OPTIONS), client_interceptor())
