"""Webhook rules: subscriptions, event-type filters, back-off and when to give up. Pure Python, no I/O."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace

from crmkit.errors import Aborted, Validator
from crmkit.etags import etag_of

ACTIVE, DISABLED = "ACTIVE", "DISABLED"
PENDING, SUCCEEDED, FAILED = "PENDING", "SUCCEEDED", "FAILED"
MAX_EVENT_TYPES = 50
MAX_DESCRIPTION = 500
MAX_URL = 2048
DEFAULT_OVERLAP = dt.timedelta(hours=24)
MAX_OVERLAP = dt.timedelta(days=7)
MAX_BACKOFF_SECONDS = 6 * 3600.0
GONE = 410


@dataclass(frozen=True)
class WebhookFields:
    """What a partner sets."""

    url: str = ""
    event_types: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Webhook:
    id: str
    tenant_id: str
    data: WebhookFields
    state: str
    disabled_reason: str
    disable_time: dt.datetime | None
    previous_secret_expire_time: dt.datetime | None
    consecutive_failures: int
    failing_since: dt.datetime | None
    create_time: dt.datetime
    update_time: dt.datetime
    # The read scopes its creator (or last editor) held: events about anything else never reach it,
    # even through `*` or a family the catalogue gains later (ADR 70).
    read_scopes: tuple[str, ...] = ()

    @property
    def etag(self) -> str:
        return etag_of(self.id, self.data, self.update_time, self.state)

    def previous_secret_active(self, now: dt.datetime) -> bool:
        return self.previous_secret_expire_time is not None and self.previous_secret_expire_time > now


def matches(patterns: Collection[str], event_type: str) -> bool:
    """Whether a subscription's filter takes an event type: exact, `<resource>.*`, or `*`."""
    resource = event_type.split(".", 1)[0]
    return "*" in patterns or event_type in patterns or f"{resource}.*" in patterns


def validate_fields(fields: WebhookFields, known_types: Collection[str], check: Validator) -> WebhookFields:
    """The fields cleaned; violations (url is checked by the SSRF guard) added to `check`."""
    resources = {name.split(".", 1)[0] for name in known_types}
    types = check.labels("event_types", fields.event_types, limit=MAX_EVENT_TYPES, max_length=100)
    if not types:
        check.add("event_types", "name at least one event type (or `*` for all)")
    for i, name in enumerate(types):
        wildcard = name.endswith(".*") and name[:-2] in resources
        if name != "*" and name not in known_types and not wildcard:
            check.add(f"event_types[{i}]", "unknown event type; see GET /v1/webhookEventTypes")
    description = check.text("description", fields.description, MAX_DESCRIPTION)
    url = check.text("url", fields.url, MAX_URL)
    if not url:
        check.add("url", "is required: the https URL deliveries are POSTed to")
    return WebhookFields(url, types, description)


def check_etag(webhook: Webhook, expected: str) -> None:
    if expected and expected != webhook.etag:
        raise Aborted(f"webhook {webhook.id} was changed since etag {expected}; read it again and retry")


def overlap(seconds: int | None) -> dt.timedelta:
    """How long the previous secret keeps signing after a rotation."""
    if seconds is None:
        return DEFAULT_OVERLAP
    check = Validator()
    if not 0 <= seconds <= MAX_OVERLAP.total_seconds():
        check.add("overlap_seconds", f"must be between 0 and {int(MAX_OVERLAP.total_seconds())}")
    check.raise_if_any()
    return dt.timedelta(seconds=seconds)


def backoff(attempt: int, base_seconds: float, jitter: Callable[[], float] = random.random) -> dt.timedelta:
    """The wait after failed attempt number `attempt` (1-based): base * 3^(attempt-1), at most 6 h,
    then spread by +-20 % so that endpoints recovering from an outage are not hit in lockstep."""
    exponential = min(base_seconds * 3 ** (attempt - 1), MAX_BACKOFF_SECONDS)
    return dt.timedelta(seconds=exponential * (0.8 + 0.4 * jitter()))


@dataclass(frozen=True)
class FailurePolicy:
    """When a subscription is given up: at once on 410 Gone; otherwise when its attempts failed
    `after_failures` times in a row over at least `after` (a short burst never disables it)."""

    max_attempts: int = 12
    after_failures: int = 20
    after: dt.timedelta = dt.timedelta(hours=24)

    def disable_reason(self, webhook: Webhook, status_code: int, now: dt.datetime) -> str | None:
        if status_code == GONE:
            return "the endpoint answered 410 Gone"
        since = webhook.failing_since or now
        if webhook.consecutive_failures >= self.after_failures and now - since >= self.after:
            return f"{webhook.consecutive_failures} failed attempts in a row since {since.isoformat()}"
        return None


def succeeded(status_code: int) -> bool:
    return 200 <= status_code < 300


def after_failure(webhook: Webhook, now: dt.datetime) -> Webhook:
    return replace(
        webhook, consecutive_failures=webhook.consecutive_failures + 1, failing_since=webhook.failing_since or now
    )


def disabled(webhook: Webhook, reason: str, now: dt.datetime) -> Webhook:
    return replace(webhook, state=DISABLED, disabled_reason=reason, disable_time=now, update_time=now)


def enabled(webhook: Webhook, now: dt.datetime) -> Webhook:
    return replace(
        webhook,
        state=ACTIVE,
        disabled_reason="",
        disable_time=None,
        consecutive_failures=0,
        failing_since=None,
        update_time=now,
    )


def truncate(text: str, limit: int = 1024) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
