"""Webhook tables and queries (the only webhook code that touches the database)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from crmkit.db import JSONType, UTCDateTime, tenant_page, tenant_row
from services.integrations.store import Base
from services.integrations.webhooks.domain import ACTIVE, PENDING, Webhook, WebhookFields


class WebhookRow(Base):
    __tablename__ = "webhooks"
    __table_args__ = (sa.Index("ix_webhooks_tenant_id_id", "tenant_id", "id"),)

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    url: Mapped[str] = mapped_column(sa.String(2048))
    event_types: Mapped[list[str]] = mapped_column(JSONType)
    description: Mapped[str] = mapped_column(sa.String(500))
    state: Mapped[str] = mapped_column(sa.String(16))
    disabled_reason: Mapped[str] = mapped_column(sa.String(500))
    disable_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Fernet tokens (crmkit/secretbox.py): the signing secrets never rest in clear.
    secret_sealed: Mapped[str] = mapped_column(sa.Text())
    previous_secret_sealed: Mapped[str | None] = mapped_column(sa.Text(), nullable=True)
    previous_secret_expire_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    consecutive_failures: Mapped[int] = mapped_column(sa.Integer())
    failing_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    update_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    read_scopes: Mapped[list[str]] = mapped_column(JSONType, server_default="[]")


class DeliveryRow(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("webhook_id", "message_id", name="uq_webhook_deliveries_webhook_id_message_id"),
        sa.Index("ix_webhook_deliveries_webhook_id_id", "webhook_id", "id"),
        sa.Index("ix_webhook_deliveries_state_next_attempt_time", "state", "next_attempt_time"),
    )

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    webhook_id: Mapped[str] = mapped_column(sa.String(26))
    message_id: Mapped[str] = mapped_column(sa.String(64))
    event_type: Mapped[str] = mapped_column(sa.String(100))
    payload: Mapped[str] = mapped_column(sa.Text())
    state: Mapped[str] = mapped_column(sa.String(16))
    attempt_count: Mapped[int] = mapped_column(sa.Integer())
    next_attempt_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    update_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class AttemptRow(Base):
    __tablename__ = "webhook_attempts"
    __table_args__ = (sa.Index("ix_webhook_attempts_delivery_id_number", "delivery_id", "number"),)

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(sa.String(26))
    number: Mapped[int] = mapped_column(sa.Integer())
    attempt_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    status_code: Mapped[int] = mapped_column(sa.Integer())
    latency_ms: Mapped[int] = mapped_column(sa.Integer())
    response_body: Mapped[str] = mapped_column(sa.Text())
    error: Mapped[str] = mapped_column(sa.Text())


@dataclass(frozen=True)
class Sealed:
    secret: str
    previous: str | None


@dataclass(frozen=True)
class Attempt:
    number: int
    attempt_time: dt.datetime
    status_code: int
    latency_ms: int
    response_body: str
    error: str


@dataclass(frozen=True)
class Delivery:
    id: str
    tenant_id: str
    webhook_id: str
    message_id: str
    event_type: str
    payload: str
    state: str
    attempt_count: int
    next_attempt_time: dt.datetime | None
    create_time: dt.datetime
    update_time: dt.datetime
    attempts: tuple[Attempt, ...] = ()


# --- webhooks ---


def _webhook(row: WebhookRow) -> Webhook:
    return Webhook(
        id=row.id,
        tenant_id=row.tenant_id,
        data=WebhookFields(row.url, tuple(row.event_types), row.description),
        state=row.state,
        disabled_reason=row.disabled_reason,
        disable_time=row.disable_time,
        previous_secret_expire_time=row.previous_secret_expire_time,
        consecutive_failures=row.consecutive_failures,
        failing_since=row.failing_since,
        create_time=row.create_time,
        update_time=row.update_time,
        read_scopes=tuple(row.read_scopes or ()),
    )


def _write(row: WebhookRow, webhook: Webhook) -> None:
    row.read_scopes = list(webhook.read_scopes)
    row.url, row.event_types, row.description = (
        webhook.data.url,
        list(webhook.data.event_types),
        webhook.data.description,
    )
    row.state, row.disabled_reason, row.disable_time = webhook.state, webhook.disabled_reason, webhook.disable_time
    row.previous_secret_expire_time = webhook.previous_secret_expire_time
    row.consecutive_failures, row.failing_since = webhook.consecutive_failures, webhook.failing_since
    row.update_time = webhook.update_time


def add_webhook(session: Session, webhook: Webhook, sealed_secret: str) -> None:
    row = WebhookRow(id=webhook.id, tenant_id=webhook.tenant_id, create_time=webhook.create_time)
    row.secret_sealed, row.previous_secret_sealed = sealed_secret, None
    _write(row, webhook)
    session.add(row)
    session.flush()


def get_webhook(session: Session, tenant_id: str, webhook_id: str, *, for_update: bool = False) -> Webhook | None:
    row = tenant_row(session, WebhookRow, tenant_id, webhook_id, for_update=for_update)
    return _webhook(row) if row else None


def sealed_secrets(session: Session, tenant_id: str, webhook_id: str) -> Sealed:
    row = tenant_row(session, WebhookRow, tenant_id, webhook_id)
    assert row is not None
    return Sealed(row.secret_sealed, row.previous_secret_sealed)


def save_webhook(session: Session, webhook: Webhook, sealed: Sealed | None = None) -> None:
    row = tenant_row(session, WebhookRow, webhook.tenant_id, webhook.id)
    assert row is not None
    _write(row, webhook)
    if sealed is not None:
        row.secret_sealed, row.previous_secret_sealed = sealed.secret, sealed.previous
    session.flush()


def endpoints(session: Session, webhook_ids: set[str]) -> dict[str, tuple[Webhook, Sealed]]:
    """Active subscriptions by id, with their sealed secrets (for the worker's claimed batch)."""
    if not webhook_ids:
        return {}
    query = sa.select(WebhookRow).where(WebhookRow.id.in_(sorted(webhook_ids)), WebhookRow.state == ACTIVE)
    return {
        row.id: (_webhook(row), Sealed(row.secret_sealed, row.previous_secret_sealed)) for row in session.scalars(query)
    }


def webhook_page(session: Session, tenant_id: str, after: str | None, limit: int) -> list[Webhook]:
    return [_webhook(r) for r in tenant_page(session, WebhookRow, tenant_id, after, limit)]


def active_webhooks(session: Session, tenant_id: str) -> list[Webhook]:
    query = sa.select(WebhookRow).where(WebhookRow.tenant_id == tenant_id, WebhookRow.state == ACTIVE)
    return [_webhook(r) for r in session.scalars(query.order_by(WebhookRow.id))]


def delete_webhook(session: Session, webhook: Webhook) -> None:
    deliveries = sa.select(DeliveryRow.id).where(DeliveryRow.webhook_id == webhook.id)
    session.execute(sa.delete(AttemptRow).where(AttemptRow.delivery_id.in_(deliveries)))
    session.execute(sa.delete(DeliveryRow).where(DeliveryRow.webhook_id == webhook.id))
    session.execute(sa.delete(WebhookRow).where(WebhookRow.tenant_id == webhook.tenant_id, WebhookRow.id == webhook.id))


# --- deliveries ---


def _delivery(row: DeliveryRow, attempts: tuple[Attempt, ...] = ()) -> Delivery:
    return Delivery(
        row.id,
        row.tenant_id,
        row.webhook_id,
        row.message_id,
        row.event_type,
        row.payload,
        row.state,
        row.attempt_count,
        row.next_attempt_time,
        row.create_time,
        row.update_time,
        attempts,
    )


def add_delivery(session: Session, delivery: Delivery) -> None:
    session.add(
        DeliveryRow(
            id=delivery.id,
            tenant_id=delivery.tenant_id,
            webhook_id=delivery.webhook_id,
            message_id=delivery.message_id,
            event_type=delivery.event_type,
            payload=delivery.payload,
            state=delivery.state,
            attempt_count=delivery.attempt_count,
            next_attempt_time=delivery.next_attempt_time,
            create_time=delivery.create_time,
            update_time=delivery.update_time,
        )
    )


def add_delivery_once(session: Session, delivery: Delivery) -> bool:
    """Add the delivery unless the subscription has one with its message id: whether it was new
    (an automation rule's webhook action, run again after a crash, sends nothing twice)."""
    exists = sa.select(DeliveryRow.id).where(
        DeliveryRow.webhook_id == delivery.webhook_id, DeliveryRow.message_id == delivery.message_id
    )
    if session.execute(exists).first() is not None:
        return False
    add_delivery(session, delivery)
    session.flush()
    return True


def _attempts(session: Session, delivery_ids: list[str], per_delivery: int = 20) -> dict[str, tuple[Attempt, ...]]:
    found: dict[str, list[Attempt]] = {}
    if not delivery_ids:
        return {}
    query = (
        sa.select(AttemptRow)
        .where(AttemptRow.delivery_id.in_(delivery_ids))
        .order_by(AttemptRow.delivery_id, AttemptRow.number.desc())
    )
    for row in session.scalars(query):
        listed = found.setdefault(row.delivery_id, [])
        if len(listed) < per_delivery:
            listed.append(
                Attempt(row.number, row.attempt_time, row.status_code, row.latency_ms, row.response_body, row.error)
            )
    return {k: tuple(v) for k, v in found.items()}


def get_delivery(session: Session, tenant_id: str, delivery_id: str, *, for_update: bool = False) -> Delivery | None:
    row = tenant_row(session, DeliveryRow, tenant_id, delivery_id, for_update=for_update)
    return _delivery(row, _attempts(session, [row.id]).get(row.id, ())) if row else None


def lock_delivery(session: Session, tenant_id: str, delivery_id: str) -> Delivery | None:
    row = tenant_row(session, DeliveryRow, tenant_id, delivery_id, for_update=True)
    return _delivery(row) if row else None


def attempts_since(session: Session, delivery_id: str, since: dt.datetime) -> int:
    query = sa.select(sa.func.count()).where(AttemptRow.delivery_id == delivery_id, AttemptRow.attempt_time >= since)
    return int(session.execute(query).scalar_one())


def reset_failures(session: Session, webhook_id: str) -> None:
    """Ends a failing streak; a no-op (and no row lock) for a subscription that had none."""
    session.execute(
        sa.update(WebhookRow)
        .where(WebhookRow.id == webhook_id, WebhookRow.consecutive_failures > 0)
        .values(consecutive_failures=0, failing_since=None)
    )


def delivery_page(session: Session, tenant_id: str, webhook_id: str, before: str | None, limit: int) -> list[Delivery]:
    query = sa.select(DeliveryRow).where(DeliveryRow.tenant_id == tenant_id, DeliveryRow.webhook_id == webhook_id)
    if before:
        query = query.where(DeliveryRow.id < before)
    rows = list(session.scalars(query.order_by(DeliveryRow.id.desc()).limit(limit)))
    attempts = _attempts(session, [r.id for r in rows])
    return [_delivery(r, attempts.get(r.id, ())) for r in rows]


def claim_due(session: Session, now: dt.datetime, lease_until: dt.datetime, limit: int) -> list[Delivery]:
    """Due deliveries of active subscriptions, leased to this worker until `lease_until`: replicas skip
    rows another one locked, and a worker that dies mid-send leaves them due again when the lease ends."""
    active = sa.select(WebhookRow.id).where(WebhookRow.state == ACTIVE)
    query = (
        sa.select(DeliveryRow)
        .where(DeliveryRow.state == PENDING, DeliveryRow.next_attempt_time <= now, DeliveryRow.webhook_id.in_(active))
        .order_by(DeliveryRow.next_attempt_time, DeliveryRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = list(session.scalars(query))
    for row in rows:
        row.next_attempt_time = lease_until
    session.flush()
    return [_delivery(r) for r in rows]


def save_delivery(session: Session, delivery: Delivery) -> None:
    session.execute(
        sa.update(DeliveryRow)
        .where(DeliveryRow.id == delivery.id)
        .values(
            state=delivery.state,
            attempt_count=delivery.attempt_count,
            next_attempt_time=delivery.next_attempt_time,
            update_time=delivery.update_time,
        )
    )


def add_attempt(session: Session, attempt_id: str, delivery_id: str, attempt: Attempt) -> None:
    session.add(
        AttemptRow(
            id=attempt_id,
            delivery_id=delivery_id,
            number=attempt.number,
            attempt_time=attempt.attempt_time,
            status_code=attempt.status_code,
            latency_ms=attempt.latency_ms,
            response_body=attempt.response_body,
            error=attempt.error,
        )
    )


def fail_pending(session: Session, webhook_id: str, now: dt.datetime) -> None:
    """A disabled subscription's waiting deliveries end as failed (kept, and replayable)."""
    session.execute(
        sa.update(DeliveryRow)
        .where(DeliveryRow.webhook_id == webhook_id, DeliveryRow.state == PENDING)
        .values(state="FAILED", next_attempt_time=None, update_time=now)
    )
