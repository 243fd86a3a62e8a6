"""gRPC channels: traced, with keepalive; callers always pass a deadline (timeout=)."""

from __future__ import annotations

import json

import grpc
from opentelemetry.instrumentation.grpc import client_interceptor, grpcext

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
