"""Retention deletes only sent outbox rows and inbox rows past their time, on both backends."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from crmkit.events.retention import Retention
from services.marketing.store import INBOX, OUTBOX
from tests.infra import database_on

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request, migrated, tmp_path):
    with database_on(request.param, "marketing", migrated, tmp_path) as database:
        yield database


def outbox_row(row_id: str, created_hours_ago: float, sent_hours_ago: float | None) -> dict[str, object]:
    sent = None if sent_hours_ago is None else NOW - dt.timedelta(hours=sent_hours_ago)
    created = NOW - dt.timedelta(hours=created_hours_ago)
    return {
        "id": row_id,
        "tenant_id": "T",
        "event_type": "x",
        "subject": "s",
        "payload": b"",
        "created_at": created,
        "sent_at": sent,
    }


def test_only_sent_outbox_rows_and_old_inbox_rows_are_deleted(database):
    with database.transaction() as session:
        session.execute(
            sa.insert(OUTBOX),
            [
                outbox_row("old-sent", 100, 99),
                outbox_row("recent-sent", 10, 9),
                outbox_row("old-unsent", 500, None),  # a broker down for weeks: still to be sent, kept
            ],
        )
        session.execute(
            sa.insert(INBOX),
            [
                {"consumer": "c", "message_id": "old", "processed_at": NOW - dt.timedelta(days=20)},
                {"consumer": "c", "message_id": "recent", "processed_at": NOW - dt.timedelta(days=1)},
            ],
        )
    retention = Retention(
        "marketing", database, OUTBOX, INBOX, outbox_keep=dt.timedelta(hours=72), inbox_keep=dt.timedelta(days=14)
    )
    assert retention.purge_once(NOW) == (1, 1)
    with database.transaction() as session:
        assert set(session.execute(sa.select(OUTBOX.c.id)).scalars()) == {"recent-sent", "old-unsent"}
        assert set(session.execute(sa.select(INBOX.c.message_id)).scalars()) == {"recent"}
    assert retention.purge_once(NOW) == (0, 0)
