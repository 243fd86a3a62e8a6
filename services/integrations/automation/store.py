"""Automation tables and queries (the only automation code that touches the database)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from crmkit.db import JSONType, UTCDateTime, tenant_page, tenant_row
from crmkit.events.retention import Expiring
from services.integrations.automation.domain import (
    ENABLED,
    PENDING,
    Action,
    ActionResult,
    Execution,
    Rule,
    RuleFields,
)
from services.integrations.store import Base


class RuleRow(Base):
    __tablename__ = "automation_rules"
    __table_args__ = (
        sa.Index("ix_automation_rules_tenant_id_id", "tenant_id", "id"),
        sa.Index("ix_automation_rules_tenant_id_event_type_state", "tenant_id", "event_type", "state"),
    )

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    display_name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text())
    event_type: Mapped[str] = mapped_column(sa.String(100))
    condition: Mapped[str] = mapped_column(sa.Text())
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    state: Mapped[str] = mapped_column(sa.String(16))
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    update_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ExecutionRow(Base):
    """One row per (rule, triggering event): the unique key is the actions' idempotency."""

    __tablename__ = "automation_executions"
    __table_args__ = (
        sa.UniqueConstraint("rule_id", "event_id", name="uq_automation_executions_rule_id_event_id"),
        sa.Index("ix_automation_executions_tenant_id_id", "tenant_id", "id"),
        sa.Index("ix_automation_executions_rule_id_id", "rule_id", "id"),
        sa.Index("ix_automation_executions_state_next_attempt_time", "state", "next_attempt_time"),
    )

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    rule_id: Mapped[str] = mapped_column(sa.String(26))
    event_id: Mapped[str] = mapped_column(sa.String(64))
    event_type: Mapped[str] = mapped_column(sa.String(100))
    subject_id: Mapped[str] = mapped_column(sa.String(64))
    event_data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    event_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(sa.String(16))
    reason: Mapped[str] = mapped_column(sa.Text())
    causation_chain: Mapped[list[str]] = mapped_column(JSONType)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    attempt_count: Mapped[int] = mapped_column(sa.Integer())
    next_attempt_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    start_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finish_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


# --- rules ---


def _rule(row: RuleRow) -> Rule:
    actions = tuple(Action.from_json(a) for a in row.actions)
    data = RuleFields(row.display_name, row.description, row.event_type, row.condition, actions)
    return Rule(row.id, row.tenant_id, data, row.state, row.create_time, row.update_time)


def _write(row: RuleRow, rule: Rule) -> None:
    data = rule.data
    row.display_name, row.description, row.event_type = data.display_name, data.description, data.event_type
    row.condition, row.actions = data.condition, [a.as_json() for a in data.actions]
    row.state, row.update_time = rule.state, rule.update_time


def add_rule(session: Session, rule: Rule) -> None:
    row = RuleRow(id=rule.id, tenant_id=rule.tenant_id, create_time=rule.create_time)
    _write(row, rule)
    session.add(row)
    session.flush()


def get_rule(session: Session, tenant_id: str, rule_id: str, *, for_update: bool = False) -> Rule | None:
    row = tenant_row(session, RuleRow, tenant_id, rule_id, for_update=for_update)
    return _rule(row) if row else None


def save_rule(session: Session, rule: Rule) -> None:
    row = tenant_row(session, RuleRow, rule.tenant_id, rule.id)
    assert row is not None
    _write(row, rule)
    session.flush()


def delete_rule(session: Session, rule: Rule) -> None:
    session.execute(sa.delete(ExecutionRow).where(ExecutionRow.rule_id == rule.id))
    session.execute(sa.delete(RuleRow).where(RuleRow.tenant_id == rule.tenant_id, RuleRow.id == rule.id))


def rule_page(session: Session, tenant_id: str, after: str | None, limit: int) -> list[Rule]:
    return [_rule(r) for r in tenant_page(session, RuleRow, tenant_id, after, limit)]


def enabled_rules(session: Session, tenant_id: str, event_types: set[str]) -> list[Rule]:
    query = sa.select(RuleRow).where(
        RuleRow.tenant_id == tenant_id, RuleRow.state == ENABLED, RuleRow.event_type.in_(sorted(event_types))
    )
    return [_rule(r) for r in session.scalars(query.order_by(RuleRow.id))]


# --- executions ---


def _execution(row: ExecutionRow) -> Execution:
    return Execution(
        id=row.id,
        tenant_id=row.tenant_id,
        rule_id=row.rule_id,
        event_id=row.event_id,
        event_type=row.event_type,
        subject_id=row.subject_id,
        event_data=dict(row.event_data),
        event_time=row.event_time,
        state=row.state,
        reason=row.reason,
        causation_chain=tuple(row.causation_chain),
        actions=tuple(ActionResult(**a) for a in row.actions),
        attempt_count=row.attempt_count,
        next_attempt_time=row.next_attempt_time,
        create_time=row.create_time,
        start_time=row.start_time,
        finish_time=row.finish_time,
    )


def _values(execution: Execution) -> dict[str, Any]:
    return {
        "state": execution.state,
        "reason": execution.reason,
        "actions": [r.__dict__ for r in execution.actions],
        "attempt_count": execution.attempt_count,
        "next_attempt_time": execution.next_attempt_time,
        "start_time": execution.start_time,
        "finish_time": execution.finish_time,
    }


def add_execution(session: Session, execution: Execution) -> bool:
    """Insert unless the rule already has a row for the event (a redelivery): whether it was new."""
    values = {
        "id": execution.id,
        "tenant_id": execution.tenant_id,
        "rule_id": execution.rule_id,
        "event_id": execution.event_id,
        "event_type": execution.event_type,
        "subject_id": execution.subject_id,
        "event_data": execution.event_data,
        "event_time": execution.event_time,
        "causation_chain": list(execution.causation_chain),
        "create_time": execution.create_time,
        **_values(execution),
    }
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(ExecutionRow).values(**values).on_conflict_do_nothing().returning(ExecutionRow.id)
    return session.execute(statement).first() is not None


def save_execution(session: Session, execution: Execution) -> None:
    session.execute(sa.update(ExecutionRow).where(ExecutionRow.id == execution.id).values(**_values(execution)))


def lock_execution(session: Session, execution_id: str) -> Execution | None:
    row = session.scalars(sa.select(ExecutionRow).where(ExecutionRow.id == execution_id).with_for_update()).first()
    return _execution(row) if row else None


def get_execution(session: Session, tenant_id: str, execution_id: str) -> Execution | None:
    row = tenant_row(session, ExecutionRow, tenant_id, execution_id)
    return _execution(row) if row else None


def execution_page(
    session: Session, tenant_id: str, rule_id: str | None, before: str | None, limit: int
) -> list[Execution]:
    query = sa.select(ExecutionRow).where(ExecutionRow.tenant_id == tenant_id)
    if rule_id is not None:
        query = query.where(ExecutionRow.rule_id == rule_id)
    if before:
        query = query.where(ExecutionRow.id < before)
    return [_execution(r) for r in session.scalars(query.order_by(ExecutionRow.id.desc()).limit(limit))]


def claim_due(session: Session, now: dt.datetime, lease_until: dt.datetime, limit: int) -> list[Execution]:
    """Due executions, leased to this worker until `lease_until` (replicas skip locked rows; a
    worker that dies leaves them due again when the lease ends)."""
    query = (
        sa.select(ExecutionRow)
        .where(ExecutionRow.state == PENDING, ExecutionRow.next_attempt_time <= now)
        .order_by(ExecutionRow.next_attempt_time, ExecutionRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = list(session.scalars(query))
    for row in rows:
        row.next_attempt_time = lease_until
    session.flush()
    return [_execution(r) for r in rows]


def finished_executions(keep: dt.timedelta) -> Expiring:
    """What the retention loop deletes: executions that ran (or were skipped) and are older than
    `keep`. A pending one is never deleted, however old: it still has actions to run."""
    table = ExecutionRow.__table__
    return Expiring(
        table,  # type: ignore[arg-type]
        (table.c.id,),
        lambda now: sa.and_(table.c.state != PENDING, table.c.create_time < now - keep),
    )
