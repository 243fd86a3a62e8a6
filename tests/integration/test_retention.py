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
    assert retention.purge_once(NOW) == {"outbox": 1, "inbox": 1}
    with database.transaction() as session:
        assert set(session.execute(sa.select(OUTBOX.c.id)).scalars()) == {"recent-sent", "old-unsent"}
        assert set(session.execute(sa.select(INBOX.c.message_id)).scalars()) == {"recent"}
    assert retention.purge_once(NOW) == {"outbox": 0, "inbox": 0}


@pytest.fixture(params=["postgresql", "sqlite"])
def integrations(request, migrated, tmp_path):
    with database_on(request.param, "integrations", migrated, tmp_path) as database:
        yield database


def test_finished_automation_executions_past_their_time_are_deleted_and_pending_ones_never(integrations):
    from services.integrations.automation.store import ExecutionRow, finished_executions
    from services.integrations.store import INBOX as INTEGRATIONS_INBOX
    from services.integrations.store import OUTBOX as INTEGRATIONS_OUTBOX

    def execution(row_id: str, state: str, days_ago: float) -> ExecutionRow:
        created = NOW - dt.timedelta(days=days_ago)
        return ExecutionRow(
            id=row_id,
            tenant_id="T",
            rule_id="R",
            event_id=f"event-{row_id}",
            event_type="crm.contacts.v1.ContactCreated",
            subject_id="C",
            event_data={},
            event_time=created,
            state=state,
            reason="",
            causation_chain=[],
            actions=[],
            attempt_count=1,
            next_attempt_time=None,
            create_time=created,
        )

    with integrations.transaction() as session:
        session.add_all(
            [
                execution("old-done", "SUCCEEDED", 40),
                execution("old-failed", "FAILED", 31),
                execution("old-skipped", "SKIPPED", 90),
                execution("old-pending", "PENDING", 400),  # still has actions to run: kept
                execution("recent-done", "SUCCEEDED", 29),
            ]
        )
    retention = Retention(
        "integrations",
        integrations,
        INTEGRATIONS_OUTBOX,
        INTEGRATIONS_INBOX,
        outbox_keep=dt.timedelta(hours=72),
        inbox_keep=dt.timedelta(days=14),
        also=[finished_executions(dt.timedelta(days=30))],
    )
    assert retention.purge_once(NOW) == {"outbox": 0, "inbox": 0, "automation_executions": 3}
    with integrations.transaction() as session:
        kept = set(session.execute(sa.select(ExecutionRow.id)).scalars())
    assert kept == {"old-pending", "recent-done"}
