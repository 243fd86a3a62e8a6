"""Every Prometheus metric the suite exports, defined once; each process serves them on /metrics."""

from __future__ import annotations

import logging

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from crmkit.config import ConfigError

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

GRPC_HANDLED = Counter(
    "crm_grpc_server_handled", "gRPC calls handled, by method and status code", ["service", "method", "code"]
)
GRPC_LATENCY = Histogram(
    "crm_grpc_server_handling_seconds", "gRPC call latency", ["service", "method"], buckets=LATENCY_BUCKETS
)
HTTP_REQUESTS = Counter("crm_http_requests", "Gateway requests, by route and status", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "crm_http_request_duration_seconds", "Gateway request latency", ["method", "route"], buckets=LATENCY_BUCKETS
)
GATEWAY_RETRIES = Counter("crm_gateway_retries", "Reads retried after UNAVAILABLE", ["method"])
RATE_LIMITED = Counter("crm_gateway_rate_limited", "Requests refused with 429, by route class", ["rate_class"])
AUDIT_WRITE_FAILURES = Counter(
    "crm_audit_write_failures", "Gateway writes whose audit entry could not be appended (the request was answered)"
)
REVOCATION_PUBLISH_FAILURES = Counter(
    "crm_gateway_revocation_publish_failures",
    "Credential revocations committed but not broadcast to the other gateways (they notice within the cache TTL)",
)
CREDENTIAL_CACHE = Counter(
    "crm_gateway_credential_cache", "Credential look-ups in the gateway's cache, by result: hit, miss", ["result"]
)
EVENTS_PUBLISHED = Counter("crm_events_published", "Outbox rows published and confirmed", ["source"])
RELAY_FAILURES = Counter("crm_outbox_relay_failures", "Relay batches that failed and will be retried", ["source"])
OUTBOX_BACKLOG = Gauge("crm_outbox_backlog", "Outbox rows not yet published", ["source"])
OUTBOX_OLDEST_AGE = Gauge("crm_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row", ["source"])
EVENTS_CONSUMED = Counter(
    "crm_events_consumed",
    "Deliveries by outcome: processed, duplicate, ignored, retry, dead_letter",
    ["consumer", "outcome"],
)
EVENT_BATCHES_SPLIT = Counter(
    "crm_event_batches_split",
    "Delivery batches whose shared transaction failed, so each delivery was handled on its own",
    ["consumer"],
)

WEBHOOK_ATTEMPTS = Counter(
    "crm_webhook_attempts",
    "Webhook delivery attempts by outcome: succeeded, failed (non-2xx), error, refused",
    ["outcome"],
)
WEBHOOK_LATENCY = Histogram("crm_webhook_attempt_seconds", "Time until a webhook endpoint answered")
WEBHOOKS_DISABLED = Counter("crm_webhooks_disabled", "Subscriptions disabled (410 Gone, or failing too long)")
AUTOMATION_EXECUTIONS = Counter(
    "crm_automation_executions",
    "Automation rule executions by how they ended: succeeded, failed, skipped (loop or depth), retried",
    ["outcome"],
)

CONSUMER_QUEUE_DEPTH = Gauge("crm_consumer_queue_depth", "Deliveries waiting for a consumer (its lag)", ["consumer"])
CONSUMER_DEAD_LETTERS = Gauge("crm_consumer_dead_letters", "Dead letters parked for a consumer", ["consumer"])
RETENTION_DELETED = Counter(
    "crm_retention_deleted", "Old rows deleted (outbox, inbox, a service's own)", ["service", "table"]
)


def serve(port: int) -> None:
    if port <= 0:
        return
    try:
        start_http_server(port)
    except OSError as exc:
        raise ConfigError(f"cannot serve metrics on port {port} ({exc.strerror}); set CRM_METRICS_PORT") from None
    log.info("metrics on :%d/metrics", port)
