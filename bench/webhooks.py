"""Webhooks: deliveries per second through the delivery table and one worker (claim with SKIP LOCKED,
sign, POST to the checked address, record the attempt) to a receiver on 127.0.0.1 — versus raw urllib3
POSTs of the same bodies to the same receiver, one connection each as the worker opens."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
import urllib3
from crm.contacts.v1 import contacts_pb2, events_pb2
from crm.events.v1.envelope_pb2 import Envelope

from bench.measure import ratio
from crmkit.db import Database, utcnow
from crmkit.ids import new_id
from crmkit.secretbox import SecretBox, new_key
from crmkit.tokens import Principal
from services.integrations.webhooks.domain import FailurePolicy, WebhookFields
from services.integrations.webhooks.sender import Sender
from services.integrations.webhooks.store import DeliveryRow
from services.integrations.webhooks.usecases import DeliveryWorker, Webhooks, fan_out
from tests.webhook_receiver import Receiver

TENANT = "TBENCH"


def _envelope(sequence: int) -> tuple[Envelope, events_pb2.ContactCreated]:
    contact = contacts_pb2.Contact(id=new_id(), given_name=f"Bench {sequence}", email=f"b{sequence}@example.com")
    event = events_pb2.ContactCreated(contact=contact)
    envelope = Envelope(id=new_id(), type=event.DESCRIPTOR.full_name, tenant=TENANT, data=event.SerializeToString())
    envelope.time.GetCurrentTime()
    return envelope, event


def _raw(url: str, bodies: list[bytes]) -> float:
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    started = time.perf_counter()
    for body in bodies:
        pool = urllib3.HTTPConnectionPool(host, int(port), retries=False)
        response = pool.urlopen("POST", "/hooks", body=body, headers={"Content-Type": "application/json"})
        assert response.status == 200
        pool.close()
    return len(bodies) / (time.perf_counter() - started)


def _raw_with_a_commit(database: Database, url: str, bodies: list[bytes], ids: list[str]) -> float:
    """The floor of a durable delivery log: each POST followed by one committed row update."""
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    started = time.perf_counter()
    for body, delivery_id in zip(bodies, ids, strict=True):
        pool = urllib3.HTTPConnectionPool(host, int(port), retries=False)
        assert pool.urlopen("POST", "/hooks", body=body).status == 200
        pool.close()
        with database.transaction() as session:
            session.execute(sa.update(DeliveryRow).where(DeliveryRow.id == delivery_id).values(update_time=utcnow()))
    return len(bodies) / (time.perf_counter() - started)


def run(size: int, integrations_url: str) -> dict[str, Any]:
    database = Database(integrations_url)
    receiver = Receiver().start()
    try:
        box = SecretBox([new_key()])
        principal = Principal(TENANT, "bench", frozenset({"integrations:write", "contacts:read"}))
        webhooks = Webhooks(database, box, allow_loopback=True)
        webhooks.create(principal, WebhookFields(receiver.url, ("contact.created",)))
        # 1. Fan-out: events into delivery rows, one transaction per event as the consumer does.
        events = [_envelope(n) for n in range(size)]
        started = time.perf_counter()
        for envelope, event in events:
            with database.transaction() as session:
                fan_out(session, envelope, event, utcnow())
        fan_out_rate = size / (time.perf_counter() - started)
        # 2. Delivery: one worker drains them.
        worker = DeliveryWorker(database, box, Sender(10.0, allow_loopback=True), FailurePolicy(), 5.0, batch=50)
        started = time.perf_counter()
        while worker.tick():
            pass
        delivered_rate = size / (time.perf_counter() - started)
        with database.transaction() as session:
            rows = session.execute(sa.select(DeliveryRow.id, DeliveryRow.payload)).all()
            ids, bodies = [r[0] for r in rows], [r[1].encode() for r in rows]
            succeeded = session.scalar(sa.select(sa.func.count()).where(DeliveryRow.state == "SUCCEEDED"))
        assert succeeded == size and len(receiver.received) == size, (succeeded, len(receiver.received))
        # 3. Raw POSTs of the very same bodies.
        raw = _raw(receiver.url, bodies)
        raw_committed = _raw_with_a_commit(database, receiver.url, bodies, ids)
    finally:
        receiver.stop()
        database.dispose()
    return {
        "scenario": "webhooks",
        "setup": f"{size} contact.created events fanned out to one subscription (one transaction each, as the "
        "consumer), then delivered by one worker (batches of 50, 8 concurrent senders, one recording transaction "
        "per attempt) to an http.server receiver on 127.0.0.1",
        "ours": {"fan_out_per_second": round(fan_out_rate, 1), "delivered_per_second": round(delivered_rate, 1)},
        "baselines": {
            "raw_urllib3": {"posts_per_second": round(raw, 1)},
            "raw_urllib3_and_one_commit_each": {"posts_per_second": round(raw_committed, 1)},
        },
        "ratios": {
            "delivered_vs_raw_posts": ratio(delivered_rate, raw),
            "delivered_vs_raw_posts_with_a_commit": ratio(delivered_rate, raw_committed),
        },
        "goals": {
            "one worker (8 senders) delivers at least as fast as sequential POST + commit": delivered_rate
            >= raw_committed,
        },
    }
