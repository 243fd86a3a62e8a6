"""Webhook protobuf <-> domain conversion."""

from __future__ import annotations

import datetime as dt

from crm.integrations.v1 import webhooks_pb2
from google.protobuf import timestamp_pb2

from services.integrations.webhooks.domain import Webhook, WebhookFields
from services.integrations.webhooks.store import Delivery

Proto = webhooks_pb2.Webhook
DeliveryProto = webhooks_pb2.WebhookDelivery


def _time(value: dt.datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def fields_from_proto(given: webhooks_pb2.Webhook) -> WebhookFields:
    return WebhookFields(given.url, tuple(given.event_types), given.description)


def webhook_to_proto(webhook: Webhook, secret: str = "") -> webhooks_pb2.Webhook:
    return webhooks_pb2.Webhook(
        id=webhook.id,
        url=webhook.data.url,
        event_types=list(webhook.data.event_types),
        description=webhook.data.description,
        state=Proto.State.Value(webhook.state),
        disabled_reason=webhook.disabled_reason,
        disable_time=_time(webhook.disable_time),
        secret=secret,
        previous_secret_expire_time=_time(webhook.previous_secret_expire_time),
        create_time=_time(webhook.create_time),
        update_time=_time(webhook.update_time),
        etag=webhook.etag,
    )


def delivery_to_proto(delivery: Delivery) -> webhooks_pb2.WebhookDelivery:
    return webhooks_pb2.WebhookDelivery(
        id=delivery.id,
        webhook_id=delivery.webhook_id,
        message_id=delivery.message_id,
        event_type=delivery.event_type,
        state=DeliveryProto.State.Value(delivery.state),
        attempt_count=delivery.attempt_count,
        next_attempt_time=_time(delivery.next_attempt_time),
        create_time=_time(delivery.create_time),
        update_time=_time(delivery.update_time),
        payload=delivery.payload,
        attempts=[
            webhooks_pb2.WebhookAttempt(
                number=a.number,
                attempt_time=_time(a.attempt_time),
                status_code=a.status_code,
                latency_ms=a.latency_ms,
                response_body=a.response_body,
                error=a.error,
            )
            for a in delivery.attempts
        ],
    )
