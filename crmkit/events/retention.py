"""Retention: sent outbox rows and old inbox rows are deleted in small batches, so neither table
grows forever. Unsent outbox rows are never touched.

The inbox must remember a message for longer than it could possibly come back: retries take
seconds, but a dead letter may be replayed days later (`crm dlq replay`), and a replay after its
inbox row is gone would apply the event again. Keep CRM_INBOX_RETENTION_HOURS above the longest
time dead letters wait for an operator (default 14 days).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from crmkit import metrics
from crmkit.db import Database, utcnow

log = logging.getLogger(__name__)
BATCH = 5000


@dataclass(frozen=True)
class Expiring:
    """A service's own table whose old rows the retention loop deletes too (e.g. automation
    executions): `expired(now)` says which rows have had their time."""

    table: sa.Table
    key: tuple[sa.ColumnElement[object], ...]
    expired: Callable[[dt.datetime], sa.ColumnElement[bool]]


class Retention:
    def __init__(
        self,
        service: str,
        database: Database,
        outbox: sa.Table,
        inbox: sa.Table,
        *,
        outbox_keep: dt.timedelta,
        inbox_keep: dt.timedelta,
        interval_seconds: float = 600.0,
        also: Sequence[Expiring] = (),
    ) -> None:
        self.service = service
        self.database = database
        self.outbox, self.inbox = outbox, inbox
        self.outbox_keep, self.inbox_keep = outbox_keep, inbox_keep
        self.interval = interval_seconds
        self.also = tuple(also)

    def purge_once(self, now: dt.datetime | None = None) -> dict[str, int]:
        """Rows deleted, by table."""
        now = now or utcnow()
        sent_before = now - self.outbox_keep
        outbox = self._purge(
            self.outbox, [self.outbox.c.id], self.outbox.c.sent_at.is_not(None) & (self.outbox.c.sent_at < sent_before)
        )
        inbox = self._purge(
            self.inbox,
            [self.inbox.c.consumer, self.inbox.c.message_id],
            self.inbox.c.processed_at < now - self.inbox_keep,
        )
        deleted = {"outbox": outbox, "inbox": inbox}
        for expiring in self.also:
            deleted[expiring.table.name] = self._purge(expiring.table, list(expiring.key), expiring.expired(now))
        for table, count in deleted.items():
            metrics.RETENTION_DELETED.labels(self.service, table).inc(count)
        return deleted

    def _purge(self, table: sa.Table, key: list[sa.ColumnElement[object]], expired: sa.ColumnElement[bool]) -> int:
        deleted = 0
        while True:  # short transactions: never one long lock over a big table
            with self.database.transaction() as session:
                batch = sa.select(*key).where(expired).limit(BATCH)
                rows = session.execute(batch).all()
                if not rows:
                    return deleted
                session.execute(sa.delete(table).where(sa.tuple_(*key).in_([tuple(r) for r in rows])))
            deleted += len(rows)
            if len(rows) < BATCH:
                return deleted

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            try:
                self.purge_once()
            except Exception as exc:  # the next round tries again; the tables only grow meanwhile
                log.warning("retention for %s failed: %s", self.service, type(exc).__name__)
