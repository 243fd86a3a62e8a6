"""Jepsen-style bookkeeping: what was committed, what arrived, and the verdict."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from crm.contacts.v1 import contacts_pb2, events_pb2
from crm.events.v1.envelope_pb2 import Envelope
from sqlalchemy.orm import Session

from crmkit.db import Database
from crmkit.events.outbox import Outbox
from crmkit.ids import new_id
from services.contacts.store import OUTBOX

APPLIED = sa.Table(
    "fault_applied",
    sa.MetaData(),
    sa.Column("n", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("message_id", sa.String(26), nullable=False),
)


def commit_events(database: Database, count: int, batch: int = 2000) -> list[str]:
    """Commit `count` ContactCreated events to the contacts outbox; returns their ids."""
    outbox = Outbox("contacts", OUTBOX)
    ids: list[str] = []
    for start in range(0, count, batch):
        events = []
        for _ in range(start, min(start + batch, count)):
            contact_id = new_id()
            contact = contacts_pb2.Contact(id=contact_id, given_name="Fault")
            contact.update_time.GetCurrentTime()
            events.append((events_pb2.ContactCreated(contact=contact), "TFAULT", contact_id))
        with database.transaction() as session:
            ids += [e.id for e in outbox.add_all(session, events)]
    return ids


def record_application(session: Session, envelope: Envelope, _event: object) -> None:
    """A handler whose every application leaves a row: doubles would show as extra rows."""
    session.execute(sa.insert(APPLIED).values(message_id=envelope.id))


@dataclass
class Verdict:
    committed: int
    applied: int
    distinct: int
    redelivered_and_ignored: float
    seconds: float

    @property
    def lost(self) -> int:
        return self.committed - self.distinct

    @property
    def duplicated(self) -> int:
        return self.applied - self.distinct

    def report(self, scenario: str) -> str:
        line = json.dumps({"scenario": scenario, **vars(self), "lost": self.lost, "duplicated": self.duplicated})
        print(f"\nFAULT {line}")
        return line


def applied_counts(database: Database, committed: Sequence[str]) -> tuple[int, int]:
    with database.transaction() as session:
        total, distinct = session.execute(
            sa.select(sa.func.count(), sa.func.count(sa.distinct(APPLIED.c.message_id)))
        ).one()
    return int(total), int(distinct)


def wait_for_all(database: Database, committed: Sequence[str], timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if applied_counts(database, committed)[1] >= len(committed):
            break
        time.sleep(0.5)
    return time.monotonic() - started
