"""Kill -9 a consumer mid-batch and the relay mid-publish: every committed event is applied once."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid

import sqlalchemy as sa

from crmkit.events.rabbitmq import RabbitBus
from services.contacts.store import OUTBOX
from tests.e2e.support import ROOT, wait_until
from tests.fault.ledger import APPLIED, Verdict, applied_counts, commit_events, wait_for_all
from tests.fault.worker import CONSUMER, consumer
from tests.infra import delete_amqp_prefix

EVENTS = 10_000


def sent(database) -> int:
    with database.transaction() as session:
        return session.execute(sa.select(sa.func.count()).where(OUTBOX.c.sent_at.is_not(None))).scalar_one()


def test_killed_relay_and_consumer_processes_lose_and_double_nothing(migrated, amqp_url, tmp_path):
    contacts_db, marketing_db = migrated("contacts"), migrated("marketing")
    APPLIED.create(marketing_db.engine)
    prefix = f"crmtest-{uuid.uuid4().hex[:8]}"
    RabbitBus(amqp_url, prefix, retry_delays_ms=(200, 500, 1000)).declare(consumer(marketing_db).subscription)
    logs = {role: open(tmp_path / f"{role}.log", "ab") for role in ("relay", "consume")}  # noqa: SIM115
    committed: list[str] = []
    relay_killed = threading.Event()

    def write() -> None:  # the business keeps writing while processes die: both are killed mid-stream
        # At least EVENTS, and on past the relay's kill however slowly the workers start on a busy machine.
        while len(committed) < EVENTS or not (
            relay_killed.is_set() and len(committed) > kills.get("committed_at_relay_kill", -1)
        ):
            committed.extend(commit_events(contacts_db, 100))
            time.sleep(0.04)

    def spawn(role: str, url: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.fault.worker", role, url, amqp_url, prefix],
            cwd=ROOT,
            stdout=logs[role],
            stderr=subprocess.STDOUT,
        )

    kills: dict[str, int] = {}
    writer = threading.Thread(target=write)
    relay, worker = spawn("relay", contacts_db.url), spawn("consume", marketing_db.url)
    writer.start()
    try:
        wait_until(lambda: applied_counts(marketing_db, committed)[1] >= 1000, 120, "the consumer to get going")
        worker.kill()  # SIGKILL with a full prefetch window unacknowledged
        kills["consumer_at_applied"] = applied_counts(marketing_db, committed)[1]
        worker.wait()
        worker = spawn("consume", marketing_db.url)
        wait_until(lambda: sent(contacts_db) >= 3000, 120, "the relay to get going")
        relay.kill()  # SIGKILL between a confirmed publish and its commit, or mid-batch
        kills["relay_at_sent"], kills["committed_at_relay_kill"] = sent(contacts_db), len(committed)
        relay_killed.set()
        relay.wait()
        relay = spawn("relay", contacts_db.url)
        writer.join(120)
        seconds = wait_for_all(marketing_db, committed, timeout=240)
    finally:
        relay_killed.set()
        writer.join(120)
        for process in (relay, worker):
            process.send_signal(signal.SIGTERM)
            process.wait(30)
        for log in logs.values():
            log.close()
        delete_amqp_prefix(amqp_url, prefix, [CONSUMER], retry_tiers=3)
    applied, distinct = applied_counts(marketing_db, committed)
    with marketing_db.transaction() as session:
        inbox = session.execute(sa.text("SELECT count(*) FROM inbox WHERE consumer = :c"), {"c": CONSUMER}).scalar_one()
    verdict = Verdict(len(committed), applied, distinct, redelivered_and_ignored=0.0, seconds=seconds)
    verdict.report(f"consumer and relay kill -9 while 10,000+ events are written {kills}")
    assert kills["committed_at_relay_kill"] < len(committed), "the relay died while events were still being written"
    assert verdict.lost == 0
    assert verdict.duplicated == 0
    assert inbox == len(committed)
