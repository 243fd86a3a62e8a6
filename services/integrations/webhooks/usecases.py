"""Webhook use cases: each one transaction of rules, store and sealed secrets; and the delivery worker."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from crm.events.v1.envelope_pb2 import Envelope
from google.protobuf.message import Message
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from crmkit import metrics
from crmkit.db import Database, utcnow
from crmkit.errors import FailedPrecondition, NotFound, Validator
from crmkit.ids import new_id
from crmkit.module import every
from crmkit.pagination import decode_cursor, page_of, page_size
from crmkit.secretbox import SecretBox
from crmkit.tokens import Principal
from crmkit.updates import apply_mask
from services.integrations.webhooks import addresses, catalog, signing, store
from services.integrations.webhooks import domain as rules
from services.integrations.webhooks.addresses import AddressRefused, Resolver
from services.integrations.webhooks.domain import Webhook, WebhookFields
from services.integrations.webhooks.sender import Answer, Sender
from services.integrations.webhooks.store import Attempt, Delivery, Sealed

Clock = Callable[[], dt.datetime]
log = logging.getLogger(__name__)


class Webhooks:
    def __init__(
        self,
        database: Database,
        box: SecretBox,
        allow_loopback: bool = False,
        resolver: Resolver = addresses.system_resolver,
        clock: Clock = utcnow,
    ) -> None:
        self.database = database
        self.box = box
        self.allow_loopback = allow_loopback
        self.resolver = resolver
        self.clock = clock

    def _validated(self, principal: Principal, fields: WebhookFields) -> WebhookFields:
        check = Validator()
        cleaned = rules.validate_fields(fields, catalog.EVENT_TYPES, check)
        for i, pattern in enumerate(cleaned.event_types):
            missing = sorted(s for s in catalog.scopes_for(pattern) if not principal.has_scope(s))
            if missing:
                check.add(f"event_types[{i}]", f"subscribing to {pattern} needs the scope {', '.join(missing)}")
        if cleaned.url and not any(v.field == "url" for v in check.violations):
            try:
                addresses.resolve(cleaned.url, self.allow_loopback, self.resolver)
            except AddressRefused as exc:
                check.add("url", str(exc))
        check.raise_if_any()
        return cleaned

    def create(self, principal: Principal, fields: WebhookFields) -> tuple[Webhook, str]:
        """The new subscription and its secret (shown this once)."""
        cleaned = self._validated(principal, fields)
        now = self.clock()
        webhook = Webhook(
            new_id(), principal.tenant_id, cleaned, rules.ACTIVE, "", None, None, 0, None, now, now, _granted(principal)
        )
        secret = signing.new_secret()
        with self.database.transaction() as session:
            store.add_webhook(session, webhook, self.box.seal(secret))
        return webhook, secret

    def get(self, principal: Principal, webhook_id: str) -> Webhook:
        with self.database.transaction() as session:
            return self._existing(session, principal, webhook_id)

    def _existing(self, session: Session, principal: Principal, webhook_id: str, lock: bool = False) -> Webhook:
        webhook = store.get_webhook(session, principal.tenant_id, webhook_id, for_update=lock)
        if webhook is None:
            raise NotFound.resource("webhook", webhook_id)
        return webhook

    def page(self, principal: Principal, requested_size: int, page_token: str) -> tuple[list[Webhook], str]:
        size = page_size(requested_size)
        after = decode_cursor(page_token, "webhooks")
        with self.database.transaction() as session:
            found = store.webhook_page(session, principal.tenant_id, after, size + 1)
        return page_of(found, size, lambda w: w.id, "webhooks")

    def update(
        self, principal: Principal, webhook_id: str, patch: WebhookFields, mask: Sequence[str], etag: str
    ) -> Webhook:
        with self.database.transaction() as session:
            current = self._existing(session, principal, webhook_id, lock=True)
            rules.check_etag(current, etag)
            merged, changed = apply_mask(current.data, patch, mask, lambda f: self._validated(principal, f))
            if not changed:
                return current
            updated = replace(current, data=merged, update_time=self.clock(), read_scopes=_granted(principal))
            store.save_webhook(session, updated)
            return updated

    def delete(self, principal: Principal, webhook_id: str, etag: str) -> None:
        with self.database.transaction() as session:
            current = self._existing(session, principal, webhook_id, lock=True)
            rules.check_etag(current, etag)
            store.delete_webhook(session, current)

    def rotate_secret(self, principal: Principal, webhook_id: str, overlap_seconds: int | None) -> tuple[Webhook, str]:
        overlap = rules.overlap(overlap_seconds)
        now = self.clock()
        secret = signing.new_secret()
        with self.database.transaction() as session:
            current = self._existing(session, principal, webhook_id, lock=True)
            sealed = store.sealed_secrets(session, principal.tenant_id, webhook_id)
            keep_previous = overlap > dt.timedelta(0)
            rotated = replace(
                current, previous_secret_expire_time=now + overlap if keep_previous else None, update_time=now
            )
            # Re-sealing the outgoing secret moves it to the newest encryption key as well.
            previous = self.box.rotate(sealed.secret) if keep_previous else None
            store.save_webhook(session, rotated, Sealed(self.box.seal(secret), previous))
        return rotated, secret

    def enable(self, principal: Principal, webhook_id: str) -> Webhook:
        with self.database.transaction() as session:
            current = self._existing(session, principal, webhook_id, lock=True)
            if current.state == rules.ACTIVE:
                return current
            updated = rules.enabled(current, self.clock())
            store.save_webhook(session, updated)
            return updated

    def deliveries(
        self, principal: Principal, webhook_id: str, requested_size: int, page_token: str
    ) -> tuple[list[Delivery], str]:
        size = page_size(requested_size)
        scope = f"webhookDeliveries:{webhook_id}"
        before = decode_cursor(page_token, scope)
        with self.database.transaction() as session:
            self._existing(session, principal, webhook_id)
            found = store.delivery_page(session, principal.tenant_id, webhook_id, before, size + 1)
        return page_of(found, size, lambda d: d.id, scope)

    def delivery(self, principal: Principal, delivery_id: str) -> Delivery:
        with self.database.transaction() as session:
            found = store.get_delivery(session, principal.tenant_id, delivery_id)
        if found is None:
            raise NotFound.resource("webhook delivery", delivery_id)
        return found

    def replay(self, principal: Principal, delivery_id: str) -> Delivery:
        now = self.clock()
        with self.database.transaction() as session:
            found = store.get_delivery(session, principal.tenant_id, delivery_id, for_update=True)
            if found is None:
                raise NotFound.resource("webhook delivery", delivery_id)
            webhook = self._existing(session, principal, found.webhook_id)
            if webhook.state != rules.ACTIVE:
                raise FailedPrecondition(f"webhook {webhook.id} is disabled; enable it before replaying")
            # Attempt numbers go on; the retry budget starts afresh for the replay.
            replayed = replace(found, state=rules.PENDING, next_attempt_time=now, update_time=now)
            store.save_delivery(session, replayed)
        return replayed


def _granted(principal: Principal) -> tuple[str, ...]:
    """The catalogue's read scopes this caller holds: what its subscription may ever receive."""
    return tuple(sorted(s for s in set(catalog.READ_SCOPES.values()) if principal.has_scope(s)))


def fan_out(session: Session, envelope: Envelope, message: Message, now: dt.datetime) -> int:
    """One delivery per matching active subscription of the event's tenant, in the consumer's
    transaction (its inbox makes a redelivered event add nothing). The number written."""
    events = catalog.public_events(message)
    if not events:
        return 0
    webhooks = store.active_webhooks(session, envelope.tenant)
    written = 0
    time = envelope.time.ToDatetime(tzinfo=dt.UTC)
    for index, public in enumerate(events):
        message_id = f"msg_{envelope.id}" + (f"_{index}" if index else "")
        payload = catalog.body(message_id, public, envelope.tenant, time).decode()
        scope = catalog.scope_of(public.type)
        for webhook in webhooks:
            if not rules.matches(webhook.data.event_types, public.type) or scope not in webhook.read_scopes:
                continue
            store.add_delivery(
                session,
                Delivery(
                    new_id(),
                    envelope.tenant,
                    webhook.id,
                    message_id,
                    public.type,
                    payload,
                    rules.PENDING,
                    0,
                    now,
                    now,
                    now,
                ),
            )
            written += 1
    return written


class DeliveryWorker:
    """Sends due deliveries. Claims a batch (SKIP LOCKED, with a lease) in one transaction, sends
    outside any transaction, and records each attempt with its outcome in another, so replicas share
    the work, no lock is held across the network, and a restart resumes from the database."""

    def __init__(
        self,
        database: Database,
        box: SecretBox,
        sender: Sender,
        policy: rules.FailurePolicy,
        retry_base_seconds: float,
        poll_seconds: float = 1.0,
        batch: int = 50,
        concurrency: int = 8,
        clock: Clock = utcnow,
    ) -> None:
        self.database = database
        self.box = box
        self.sender = sender
        self.policy = policy
        self.retry_base_seconds = retry_base_seconds
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.clock = clock
        # Long enough for the whole batch at the worst: every round of `concurrency` sends times out.
        rounds = -(-batch // concurrency)
        per_send = (sender.timeout.connect_timeout or 5) + (sender.timeout.read_timeout or 10)  # type: ignore[operator]
        self.lease = dt.timedelta(seconds=rounds * per_send + 30)
        # Set when a consumer in this process wrote deliveries, so they go out without waiting a poll.
        self.wake = threading.Event()
        self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix="webhook-sender")

    def notify_on_commit(self, session: Session) -> None:
        sa_event.listen(session, "after_commit", lambda _s: self.wake.set(), once=True)

    def run(self, stop: threading.Event) -> None:
        try:
            every(self.poll_seconds, self.tick, "webhook delivery tick", wake=self.wake, again=bool)(stop)
        finally:
            self.pool.shutdown(wait=True)

    def tick(self) -> int:
        """Send what is due now, `concurrency` at a time (a slow endpoint holds one sender, not the
        queue); the number of attempts made."""
        now = self.clock()
        with self.database.transaction() as session:
            claimed = store.claim_due(session, now, now + self.lease, self.batch)
            endpoints = store.endpoints(session, {d.webhook_id for d in claimed})
        signing_keys = {
            webhook_id: self._secrets(webhook, sealed, now) for webhook_id, (webhook, sealed) in endpoints.items()
        }
        work = [
            (d, endpoints[d.webhook_id][0], signing_keys[d.webhook_id]) for d in claimed if d.webhook_id in endpoints
        ]
        list(self.pool.map(lambda job: self._attempt(*job), work))
        return len(claimed)

    def _secrets(self, webhook: Webhook, sealed: Sealed, now: dt.datetime) -> list[str]:
        secrets = [self.box.open(sealed.secret)]
        if sealed.previous and webhook.previous_secret_active(now):
            secrets.append(self.box.open(sealed.previous))
        return secrets

    def _attempt(self, delivery: Delivery, webhook: Webhook, secrets: list[str]) -> None:
        now = self.clock()
        body = delivery.payload.encode()
        timestamp = int(now.timestamp())
        headers = {
            "webhook-id": delivery.message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signing.signature_header(secrets, delivery.message_id, timestamp, body),
        }
        answer = self.sender.post(webhook.data.url, headers, body)
        if answer.status_code:
            metrics.WEBHOOK_LATENCY.observe(answer.latency_ms / 1000)
        outcome = "succeeded" if rules.succeeded(answer.status_code) else "failed" if answer.status_code else "error"
        metrics.WEBHOOK_ATTEMPTS.labels("refused" if answer.error.startswith("refused") else outcome).inc()
        self._record(delivery, answer, now)

    def _record(self, delivery: Delivery, answer: Answer, attempt_time: dt.datetime) -> None:
        now = self.clock()
        with self.database.transaction() as session:
            current = store.lock_delivery(session, delivery.tenant_id, delivery.id)
            if current is None:
                return  # deleted with its subscription meanwhile
            number = current.attempt_count + 1
            attempt = Attempt(number, attempt_time, answer.status_code, answer.latency_ms, answer.body, answer.error)
            store.add_attempt(session, new_id(), current.id, attempt)
            if rules.succeeded(answer.status_code):
                ended = replace(current, state=rules.SUCCEEDED, attempt_count=number, next_attempt_time=None)
                store.save_delivery(session, replace(ended, update_time=now))
                # No lock on the subscription on the hot path: only a failing streak is reset.
                store.reset_failures(session, current.webhook_id)
                return
            webhook = store.get_webhook(session, delivery.tenant_id, delivery.webhook_id, for_update=True)
            if webhook is None:
                return
            failed = replace(current, state=rules.FAILED, attempt_count=number, next_attempt_time=None, update_time=now)
            failing = rules.after_failure(webhook, now)
            reason = self.policy.disable_reason(failing, answer.status_code, now)
            if reason:
                store.save_delivery(session, failed)
                store.save_webhook(session, rules.disabled(failing, reason, now))
                store.fail_pending(session, webhook.id, now)
                metrics.WEBHOOKS_DISABLED.inc()
                log.warning("webhook %s (tenant %s) disabled: %s", webhook.id, webhook.tenant_id, reason)
                return
            store.save_webhook(session, failing)
            # The retry budget counts the attempts since the delivery was made or last replayed
            # (its update_time moves only then, and when it ends).
            made = store.attempts_since(session, current.id, current.update_time)
            if made >= self.policy.max_attempts:
                store.save_delivery(session, failed)
                return
            retry_at = now + rules.backoff(made, self.retry_base_seconds)
            store.save_delivery(session, replace(current, attempt_count=number, next_attempt_time=retry_at))
