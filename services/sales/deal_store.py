"""Tables and queries of pipelines, opportunities, products and quotes (issue #4, points 5-8).

Money is stored as an integer count of minor units next to its ISO 4217 code (ADR 0045), so
every sum below is exact in SQL on PostgreSQL and SQLite alike.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from crmkit.db import JSONType, UTCDateTime
from crmkit.filtering import Field, Kind, Order, after_position, compile_filter, order_clauses, parse_order_by
from services.sales.domain import forecast as rules
from services.sales.domain.money import Money
from services.sales.domain.opportunities import Opportunity, OpportunityFields, StageMove
from services.sales.domain.pipelines import LOST, OPEN, WON, Pipeline, PipelineFields, Stage
from services.sales.domain.quotes import Line, Product, ProductFields, Quote, Totals
from services.sales.store import Base

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def epoch(moment: dt.datetime) -> int:
    return int((moment - EPOCH).total_seconds())


class PipelineRow(Base):
    __tablename__ = "pipelines"
    __table_args__ = (sa.Index("ix_pipelines_tenant_id_id", "tenant_id", "id"),)

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    name: Mapped[str] = mapped_column(sa.String(100))
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    update_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    etag: Mapped[str] = mapped_column(sa.String(32))


class StageRow(Base):
    __tablename__ = "pipeline_stages"
    __table_args__ = (sa.Index("ix_pipeline_stages_tenant_id_pipeline_id", "tenant_id", "pipeline_id"),)

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    pipeline_id: Mapped[str] = mapped_column(sa.String(26))
    position: Mapped[int] = mapped_column(sa.Integer)
    name: Mapped[str] = mapped_column(sa.String(100))
    probability: Mapped[int] = mapped_column(sa.Integer)
    # OPEN, WON or LOST.
    category: Mapped[str] = mapped_column(sa.String(8))
    required_fields: Mapped[list[str]] = mapped_column(JSONType)


class OpportunityRow(Base):
    __tablename__ = "opportunities"
    __table_args__ = (
        sa.Index("ix_opportunities_tenant_id_id", "tenant_id", "id"),
        sa.Index("ix_opportunities_tenant_id_close_date", "tenant_id", "close_date"),
        sa.Index("ix_opportunities_tenant_id_owner_id", "tenant_id", "owner_id"),
        sa.Index("ix_opportunities_tenant_id_stage_id", "tenant_id", "stage_id"),
        sa.Index("ix_opportunities_tenant_id_update_time", "tenant_id", "update_time"),
    )

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    name: Mapped[str] = mapped_column(sa.String(200))
    account_id: Mapped[str] = mapped_column(sa.String(64))
    contact_id: Mapped[str] = mapped_column(sa.String(64))
    pipeline_id: Mapped[str] = mapped_column(sa.String(26))
    stage_id: Mapped[str] = mapped_column(sa.String(64))
    # ISO 4217 code and the amount in its minor unit; '' and NULL without an amount.
    currency_code: Mapped[str] = mapped_column(sa.String(3))
    amount_minor: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    close_date: Mapped[dt.date | None] = mapped_column(sa.Date, nullable=True)
    # The close date's year * 100 + month: the forecast groups by this integer (ADR 0045).
    close_month: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    owner_id: Mapped[str] = mapped_column(sa.String(64))
    close_reason: Mapped[str] = mapped_column(sa.Text)
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    update_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    stage_enter_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    closed_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The same instants as Unix seconds, for durations in SQL on both backends (ADR 0045).
    create_epoch: Mapped[int] = mapped_column(sa.BigInteger)
    stage_enter_epoch: Mapped[int] = mapped_column(sa.BigInteger)
    closed_epoch: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    etag: Mapped[str] = mapped_column(sa.String(32))


class StageHistoryRow(Base):
    __tablename__ = "opportunity_stage_history"
    __table_args__ = (
        sa.Index("ix_opportunity_stage_history_tenant_id_opportunity_id", "tenant_id", "opportunity_id"),
        sa.Index("ix_opportunity_stage_history_tenant_id_to_stage_id", "tenant_id", "to_stage_id"),
    )

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    opportunity_id: Mapped[str] = mapped_column(sa.String(26))
    pipeline_id: Mapped[str] = mapped_column(sa.String(26))
    from_stage_id: Mapped[str] = mapped_column(sa.String(64))
    to_stage_id: Mapped[str] = mapped_column(sa.String(64))
    to_stage_name: Mapped[str] = mapped_column(sa.String(100))
    enter_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    leave_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Seconds spent in the stage, set when it is left (the stage's typical stay is their average).
    duration_seconds: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    actor: Mapped[str] = mapped_column(sa.String(200))
    reason: Mapped[str] = mapped_column(sa.Text)


class StageFlowRow(Base):
    """Running totals of the stage history per (pipeline, from, to): what the forecast's conversions
    and typical stays read instead of scanning every history row (ADR 0045). Kept in the
    transaction of each stage change."""

    __tablename__ = "stage_flows"

    tenant_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    pipeline_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    from_stage_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    to_stage_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    entered: Mapped[int] = mapped_column(sa.BigInteger)
    stay_seconds: Mapped[int] = mapped_column(sa.BigInteger)
    stays: Mapped[int] = mapped_column(sa.BigInteger)


def _add_to(session: Session, table: Any, keys: dict[str, Any], amounts: dict[str, int]) -> None:
    """Add to one running total, creating it on first use: one atomic upsert (INSERT … ON CONFLICT
    DO UPDATE SET x = x + :d), so concurrent writers each add and none reads the total first."""
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(table).values(**keys, **amounts)
    statement = statement.on_conflict_do_update(
        index_elements=list(keys), set_={name: getattr(table, name) + value for name, value in amounts.items()}
    )
    session.execute(statement)


def _bump(
    session: Session, tenant_id: str, pipeline_id: str, from_id: str, to_id: str, entered: int, seconds: int, stays: int
) -> None:
    """Add to one stage flow's running totals (concurrent first moves agree)."""
    keys = {"tenant_id": tenant_id, "pipeline_id": pipeline_id, "from_stage_id": from_id, "to_stage_id": to_id}
    _add_to(session, StageFlowRow, keys, {"entered": entered, "stay_seconds": seconds, "stays": stays})


class ForecastTotalRow(Base):
    """Running totals of the opportunities per (close month, owner, pipeline, currency, stage): what
    the forecast sums instead of scanning every opportunity (ADR 0073). Kept in the transaction of
    each opportunity write (`_count`); the stage's category and probability are joined when read,
    so editing a pipeline's stages changes nothing here."""

    __tablename__ = "forecast_totals"

    tenant_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    # YYYYMM of the close date, 0 without one (a key column cannot be NULL).
    close_month: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    owner_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    pipeline_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    currency_code: Mapped[str] = mapped_column(sa.String(3), primary_key=True)
    stage_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    # How many opportunities, Σ amount_minor, Σ (closed_epoch - create_epoch) of the closed ones.
    deals: Mapped[int] = mapped_column(sa.BigInteger)
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    cycle_seconds: Mapped[int] = mapped_column(sa.BigInteger)


# (tenant, close month or 0, owner, pipeline, currency, stage): one running total's key.
TotalKey = tuple[str, int, str, str, str, str]
# One opportunity's part of its total: (key, deals, amount_minor, cycle seconds).
Share = tuple[TotalKey, int, int, int]


def _share(row: OpportunityRow, sign: int) -> Share:
    key = (row.tenant_id, row.close_month or 0, row.owner_id, row.pipeline_id, row.currency_code, row.stage_id)
    cycle = 0 if row.closed_epoch is None else row.closed_epoch - row.create_epoch
    return key, sign, sign * (row.amount_minor or 0), sign * cycle


def _count(session: Session, shares: list[Share]) -> None:
    """Add opportunities' shares to their running totals with one atomic upsert per key (concurrent
    writers add, nobody reads then writes), in key order so two writers never wait on each other's
    keys crosswise; a change that leaves a total as it was writes nothing."""
    net: dict[TotalKey, list[int]] = {}
    for key, deals, amount, cycle in shares:
        total = net.setdefault(key, [0, 0, 0])
        total[0], total[1], total[2] = total[0] + deals, total[1] + amount, total[2] + cycle
    names = ("tenant_id", "close_month", "owner_id", "pipeline_id", "currency_code", "stage_id")
    for key, (deals, amount, cycle) in sorted(net.items()):
        if deals == amount == cycle == 0:
            continue
        amounts = {"deals": deals, "amount_minor": amount, "cycle_seconds": cycle}
        _add_to(session, ForecastTotalRow, dict(zip(names, key, strict=True)), amounts)


def recounted_totals(tenant_id: str) -> Any:
    """The running totals computed from scratch from the opportunities: to rebuild them after a bulk
    load that bypassed the write path (the benchmark's COPY), and to check them."""
    o = OpportunityRow
    month = sa.func.coalesce(o.close_month, 0)
    keys = [o.tenant_id, month, o.owner_id, o.pipeline_id, o.currency_code, o.stage_id]
    return (
        sa.select(
            *keys,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(o.amount_minor), 0),
            sa.func.coalesce(sa.func.sum(o.closed_epoch - o.create_epoch), 0),
        )
        .where(o.tenant_id == tenant_id)
        .group_by(*keys)
    )


def rebuild_forecast_totals(session: Session, tenant_id: str) -> None:
    """Replace the tenant's running totals with a recount (the opportunities should not change
    meanwhile: run it where nothing else writes the tenant's opportunities)."""
    session.execute(sa.delete(ForecastTotalRow).where(ForecastTotalRow.tenant_id == tenant_id))
    columns = ["tenant_id", "close_month", "owner_id", "pipeline_id", "currency_code", "stage_id"]
    columns += ["deals", "amount_minor", "cycle_seconds"]
    session.execute(sa.insert(ForecastTotalRow).from_select(columns, recounted_totals(tenant_id)))


class ProductRow(Base):
    __tablename__ = "products"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "sku_key", name="uq_products_tenant_id_sku_key"),
        sa.Index("ix_products_tenant_id_id", "tenant_id", "id"),
    )

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    sku: Mapped[str] = mapped_column(sa.String(64))
    # The SKU as uniqueness sees it: lower-cased.
    sku_key: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text)
    currency_code: Mapped[str] = mapped_column(sa.String(3))
    unit_price_minor: Mapped[int] = mapped_column(sa.BigInteger)
    tax_rate_percent: Mapped[str] = mapped_column(sa.String(16))
    active: Mapped[bool] = mapped_column(sa.Boolean)
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    update_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    etag: Mapped[str] = mapped_column(sa.String(32))


class QuoteRow(Base):
    __tablename__ = "quotes"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "sequence", name="uq_quotes_tenant_id_sequence"),
        sa.Index("ix_quotes_tenant_id_opportunity_id", "tenant_id", "opportunity_id"),
    )

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    sequence: Mapped[int] = mapped_column(sa.Integer)
    number: Mapped[str] = mapped_column(sa.String(16))
    opportunity_id: Mapped[str] = mapped_column(sa.String(26))
    currency_code: Mapped[str] = mapped_column(sa.String(3))
    # Each line: decimal strings for quantity and percentages, minor units for money.
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    net_minor: Mapped[int] = mapped_column(sa.BigInteger)
    tax_minor: Mapped[int] = mapped_column(sa.BigInteger)
    grand_minor: Mapped[int] = mapped_column(sa.BigInteger)
    status: Mapped[str] = mapped_column(sa.String(10))
    contact_id: Mapped[str] = mapped_column(sa.String(64))
    account_id: Mapped[str] = mapped_column(sa.String(64))
    owner_id: Mapped[str] = mapped_column(sa.String(64))
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    update_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    etag: Mapped[str] = mapped_column(sa.String(32))


class QuoteCounterRow(Base):
    __tablename__ = "quote_counters"

    tenant_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    last_sequence: Mapped[int] = mapped_column(sa.Integer)


# --- pipelines ---------------------------------------------------------------------------------


def add_pipeline(session: Session, pipeline: Pipeline) -> None:
    session.add(
        PipelineRow(
            id=pipeline.id,
            tenant_id=pipeline.tenant_id,
            name=pipeline.data.name,
            create_time=pipeline.create_time,
            update_time=pipeline.update_time,
            etag=pipeline.etag,
        )
    )
    _write_stages(session, pipeline)


def save_pipeline(session: Session, pipeline: Pipeline) -> None:
    session.execute(
        sa.update(PipelineRow)
        .where(PipelineRow.tenant_id == pipeline.tenant_id, PipelineRow.id == pipeline.id)
        .values(name=pipeline.data.name, update_time=pipeline.update_time, etag=pipeline.etag)
    )
    session.execute(
        sa.delete(StageRow).where(StageRow.tenant_id == pipeline.tenant_id, StageRow.pipeline_id == pipeline.id)
    )
    _write_stages(session, pipeline)


def _write_stages(session: Session, pipeline: Pipeline) -> None:
    session.flush()
    for position, stage in enumerate(pipeline.data.stages):
        session.add(
            StageRow(
                id=stage.id,
                tenant_id=pipeline.tenant_id,
                pipeline_id=pipeline.id,
                position=position,
                name=stage.name,
                probability=stage.probability,
                category=stage.category,
                required_fields=list(stage.required_fields),
            )
        )
    session.flush()


def get_pipeline(session: Session, tenant_id: str, pipeline_id: str, *, for_update: bool = False) -> Pipeline | None:
    query = sa.select(PipelineRow).where(PipelineRow.tenant_id == tenant_id, PipelineRow.id == pipeline_id)
    if for_update:
        query = query.with_for_update()
    row = session.scalars(query).first()
    if row is None:
        return None
    return _pipeline(row, _stages_of(session, tenant_id, [row.id]).get(row.id, []))


def _stages_of(session: Session, tenant_id: str, pipeline_ids: list[str]) -> dict[str, list[Stage]]:
    query = (
        sa.select(StageRow)
        .where(StageRow.tenant_id == tenant_id, StageRow.pipeline_id.in_(pipeline_ids))
        .order_by(StageRow.pipeline_id, StageRow.position)
    )
    found: dict[str, list[Stage]] = {}
    for row in session.scalars(query):
        found.setdefault(row.pipeline_id, []).append(
            Stage(row.id, row.name, row.probability, row.category, tuple(row.required_fields))
        )
    return found


def _pipeline(row: PipelineRow, stages: list[Stage]) -> Pipeline:
    data = PipelineFields(row.name, tuple(stages))
    return Pipeline(row.id, row.tenant_id, data, row.create_time, row.update_time, row.etag)


def first_pipeline(session: Session, tenant_id: str) -> Pipeline | None:
    """The tenant's oldest pipeline (ids are time-ordered): where converted leads' deals open."""
    found = page_pipelines(session, tenant_id, None, 1)
    return found[0] if found else None


def page_pipelines(session: Session, tenant_id: str, after: str | None, limit: int) -> list[Pipeline]:
    query = sa.select(PipelineRow).where(PipelineRow.tenant_id == tenant_id)
    if after:
        query = query.where(PipelineRow.id > after)
    rows = session.scalars(query.order_by(PipelineRow.id).limit(limit)).all()
    stages = _stages_of(session, tenant_id, [r.id for r in rows])
    return [_pipeline(r, stages.get(r.id, [])) for r in rows]


def delete_pipeline(session: Session, tenant_id: str, pipeline_id: str) -> None:
    session.execute(sa.delete(StageRow).where(StageRow.tenant_id == tenant_id, StageRow.pipeline_id == pipeline_id))
    session.execute(sa.delete(PipelineRow).where(PipelineRow.tenant_id == tenant_id, PipelineRow.id == pipeline_id))


def opportunities_in(session: Session, tenant_id: str, *, pipeline_id: str = "", stage_ids: list[str] = ()) -> int:  # type: ignore[assignment]
    query = sa.select(sa.func.count()).select_from(OpportunityRow).where(OpportunityRow.tenant_id == tenant_id)
    if pipeline_id:
        query = query.where(OpportunityRow.pipeline_id == pipeline_id)
    if stage_ids:
        query = query.where(OpportunityRow.stage_id.in_(stage_ids))
    return int(session.scalar(query) or 0)


# --- opportunities -----------------------------------------------------------------------------


def _opportunity(row: OpportunityRow) -> Opportunity:
    amount = None if row.amount_minor is None else Money.of_minor(row.currency_code, row.amount_minor)
    data = OpportunityFields(
        name=row.name,
        account_id=row.account_id,
        contact_id=row.contact_id,
        pipeline_id=row.pipeline_id,
        stage_id=row.stage_id,
        amount=amount,
        close_date=row.close_date,
        owner_id=row.owner_id,
        close_reason=row.close_reason,
    )
    return Opportunity(
        row.id,
        row.tenant_id,
        data,
        row.create_time,
        row.update_time,
        row.stage_enter_time,
        row.closed_time,
        row.etag,
    )


def _write_opportunity(row: OpportunityRow, opportunity: Opportunity) -> None:
    data = opportunity.data
    row.name, row.account_id, row.contact_id = data.name, data.account_id, data.contact_id
    row.pipeline_id, row.stage_id, row.owner_id = data.pipeline_id, data.stage_id, data.owner_id
    row.currency_code = data.amount.currency if data.amount else ""
    row.amount_minor = data.amount.minor if data.amount else None
    row.close_date, row.close_reason = data.close_date, data.close_reason
    row.close_month = None if data.close_date is None else data.close_date.year * 100 + data.close_date.month
    row.update_time, row.etag = opportunity.update_time, opportunity.etag
    row.stage_enter_time, row.stage_enter_epoch = opportunity.stage_enter_time, epoch(opportunity.stage_enter_time)
    row.closed_time = opportunity.closed_time
    row.closed_epoch = None if opportunity.closed_time is None else epoch(opportunity.closed_time)


def add_opportunity(session: Session, opportunity: Opportunity) -> None:
    row = OpportunityRow(
        id=opportunity.id,
        tenant_id=opportunity.tenant_id,
        create_time=opportunity.create_time,
        create_epoch=epoch(opportunity.create_time),
    )
    _write_opportunity(row, opportunity)
    session.add(row)
    _count(session, [_share(row, 1)])


def save_opportunity(session: Session, opportunity: Opportunity) -> None:
    # Locked and read afresh: the share taken back from the running totals is the stored one.
    row = _opportunity_row(session, opportunity.tenant_id, opportunity.id, True)
    if row is None:
        raise LookupError(opportunity.id)
    before = _share(row, -1)
    _write_opportunity(row, opportunity)
    _count(session, [before, _share(row, 1)])


def get_opportunity(
    session: Session, tenant_id: str, opportunity_id: str, *, for_update: bool = False
) -> Opportunity | None:
    row = _opportunity_row(session, tenant_id, opportunity_id, for_update)
    return None if row is None else _opportunity(row)


def _opportunity_row(session: Session, tenant_id: str, opportunity_id: str, for_update: bool) -> OpportunityRow | None:
    query = sa.select(OpportunityRow).where(OpportunityRow.tenant_id == tenant_id, OpportunityRow.id == opportunity_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalars(query).first()


def delete_opportunity(session: Session, tenant_id: str, opportunity_id: str) -> None:
    opportunity = _opportunity_row(session, tenant_id, opportunity_id, True)
    if opportunity is not None:  # first, as every write does: the same lock order everywhere
        _count(session, [_share(opportunity, -1)])
    for row in stage_history(session, tenant_id, opportunity_id):  # its share of the running totals goes too
        stayed = row.duration_seconds
        _bump(
            session,
            tenant_id,
            row.pipeline_id,
            row.from_stage_id,
            row.to_stage_id,
            -1,
            -(stayed or 0),
            0 if stayed is None else -1,
        )
    session.execute(
        sa.delete(StageHistoryRow).where(
            StageHistoryRow.tenant_id == tenant_id, StageHistoryRow.opportunity_id == opportunity_id
        )
    )
    session.execute(
        sa.delete(OpportunityRow).where(OpportunityRow.tenant_id == tenant_id, OpportunityRow.id == opportunity_id)
    )


def stages_by_id(session: Session, tenant_id: str, stage_ids: set[str]) -> dict[str, Stage]:
    rows = session.scalars(sa.select(StageRow).where(StageRow.tenant_id == tenant_id, StageRow.id.in_(stage_ids)))
    return {r.id: Stage(r.id, r.name, r.probability, r.category, tuple(r.required_fields)) for r in rows}


def record_move(session: Session, tenant_id: str, opportunity: Opportunity, move: StageMove, entry_id: str) -> None:
    """Close the open stint (with its duration) and open the new one."""
    open_stint = sa.and_(
        StageHistoryRow.tenant_id == tenant_id,
        StageHistoryRow.opportunity_id == opportunity.id,
        StageHistoryRow.leave_time.is_(None),
    )
    for row in session.scalars(sa.select(StageHistoryRow).where(open_stint)):
        row.leave_time = move.enter_time
        row.duration_seconds = max(0, epoch(move.enter_time) - epoch(row.enter_time))
        _bump(session, tenant_id, row.pipeline_id, row.from_stage_id, row.to_stage_id, 0, row.duration_seconds, 1)
    _bump(session, tenant_id, opportunity.data.pipeline_id, move.from_stage_id, move.to_stage.id, 1, 0, 0)
    session.add(
        StageHistoryRow(
            id=entry_id,
            tenant_id=tenant_id,
            opportunity_id=opportunity.id,
            pipeline_id=opportunity.data.pipeline_id,
            from_stage_id=move.from_stage_id,
            to_stage_id=move.to_stage.id,
            to_stage_name=move.to_stage.name,
            enter_time=move.enter_time,
            leave_time=None,
            duration_seconds=None,
            actor=move.actor,
            reason=move.reason,
        )
    )


def stage_history(session: Session, tenant_id: str, opportunity_id: str) -> list[StageHistoryRow]:
    query = (
        sa.select(StageHistoryRow)
        .where(StageHistoryRow.tenant_id == tenant_id, StageHistoryRow.opportunity_id == opportunity_id)
        .order_by(StageHistoryRow.enter_time, StageHistoryRow.id)
    )
    return list(session.scalars(query))


OPPORTUNITY_FIELDS = [
    Field("name", OpportunityRow.name, Kind.TEXT, sortable=True),
    Field("ownerId", OpportunityRow.owner_id, Kind.ENUM),
    Field("pipelineId", OpportunityRow.pipeline_id, Kind.ENUM),
    Field("stageId", OpportunityRow.stage_id, Kind.ENUM),
    Field("accountId", OpportunityRow.account_id, Kind.ENUM),
    Field("contactId", OpportunityRow.contact_id, Kind.ENUM),
    Field("currencyCode", OpportunityRow.currency_code, Kind.ENUM),
    Field("stageCategory", StageRow.category, Kind.ENUM),
    Field("createTime", OpportunityRow.create_time, Kind.TIMESTAMP, sortable=True),
    Field("updateTime", OpportunityRow.update_time, Kind.TIMESTAMP, sortable=True),
]


@dataclass(frozen=True)
class Listing:
    filter: str
    order_by: str
    owner_id: str | None = None

    def orders(self) -> list[Order]:
        return parse_order_by(self.order_by, OPPORTUNITY_FIELDS, default=[])


def page_opportunities(
    session: Session, tenant_id: str, listing: Listing, after: list[Any] | None, limit: int
) -> list[tuple[Opportunity, list[Any]]]:
    orders = listing.orders()
    query = (
        sa.select(OpportunityRow)
        .join(StageRow, StageRow.id == OpportunityRow.stage_id)
        .where(OpportunityRow.tenant_id == tenant_id)
    )
    condition = compile_filter(listing.filter, OPPORTUNITY_FIELDS, session.get_bind().dialect.name)
    if condition is not None:
        query = query.where(condition)
    if listing.owner_id is not None:
        query = query.where(OpportunityRow.owner_id == listing.owner_id)
    if after:
        if len(after) != len(orders) + 1:
            raise LookupError("position does not match the order")
        query = query.where(after_position(orders, OpportunityRow.id, after))
    rows = session.scalars(query.order_by(*order_clauses(orders, OpportunityRow.id)).limit(limit)).all()
    return [(_opportunity(r), [getattr(r, o.field.column.key) for o in orders] + [r.id]) for r in rows]


# --- forecast ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForecastQuery:
    tenant_id: str
    quarterly: bool = False
    pipeline_id: str = ""
    owner_id: str = ""
    close_from: dt.date | None = None
    close_to: dt.date | None = None


@dataclass(frozen=True)
class ForecastTotals:
    period: str
    owner_id: str
    pipeline_id: str
    currency: str
    open_count: int
    open_minor: int
    weighted_minor_x100: int
    pipeline_minor: int
    best_case_minor: int
    commit_minor: int
    closed_minor: int
    won_count: int
    lost_count: int
    cycle_seconds: int


def _period(month: Any, quarterly: bool) -> Any:
    """The period as an integer: YYYYMM, or YYYY * 10 + quarter (NULL without a close date)."""
    return (month // 100) * 10 + (month % 100 + 2) // 3 if quarterly else month


def period_label(value: int | None, quarterly: bool) -> str:
    if value is None:
        return ""
    return (
        rules.period_label(value // 10, (value % 10) * 3, True)
        if quarterly
        else rules.period_label(value // 100, value % 100, False)
    )


def _opportunity_scope(query: Any, spec: ForecastQuery) -> Any:
    query = query.where(OpportunityRow.tenant_id == spec.tenant_id)
    if spec.pipeline_id:
        query = query.where(OpportunityRow.pipeline_id == spec.pipeline_id)
    if spec.owner_id:
        query = query.where(OpportunityRow.owner_id == spec.owner_id)
    if spec.close_from:
        query = query.where(OpportunityRow.close_date >= spec.close_from)
    if spec.close_to:
        query = query.where(OpportunityRow.close_date <= spec.close_to)
    return query


def _scanned(spec: ForecastQuery) -> Any:
    """The opportunities in scope summed per (period, owner, pipeline, currency, stage): one pass."""
    period = _period(OpportunityRow.close_month, spec.quarterly).label("period")
    keys = [OpportunityRow.owner_id, OpportunityRow.pipeline_id, OpportunityRow.currency_code]
    inner = sa.select(
        period,
        *keys,
        OpportunityRow.stage_id,
        sa.func.count().label("deals"),
        sa.func.coalesce(sa.func.sum(OpportunityRow.amount_minor), 0).label("amount"),
        sa.func.coalesce(sa.func.sum(OpportunityRow.closed_epoch - OpportunityRow.create_epoch), 0).label("cycle"),
    )
    return _opportunity_scope(inner, spec).group_by(period, *keys, OpportunityRow.stage_id)


def _totalled(spec: ForecastQuery, first: int | None, last: int | None, dated_only: bool) -> Any:
    """The same sums read from the running totals, for the close months first..last (either open)."""
    t = ForecastTotalRow
    month = sa.case((t.close_month == 0, sa.null()), else_=t.close_month)
    query = sa.select(
        _period(month, spec.quarterly).label("period"),
        t.owner_id,
        t.pipeline_id,
        t.currency_code,
        t.stage_id,
        t.deals,
        t.amount_minor.label("amount"),
        t.cycle_seconds.label("cycle"),
    ).where(t.tenant_id == spec.tenant_id, t.deals != 0)  # a total back to zero is no row of the scan
    if spec.pipeline_id:
        query = query.where(t.pipeline_id == spec.pipeline_id)
    if spec.owner_id:
        query = query.where(t.owner_id == spec.owner_id)
    if dated_only:
        query = query.where(t.close_month > 0)
    if first is not None:
        query = query.where(t.close_month >= first)
    if last is not None:
        query = query.where(t.close_month <= last)
    return query


def _month_of(day: dt.date) -> int:
    return day.year * 100 + day.month


def _month_end(day: dt.date) -> dt.date:
    following = day.replace(day=28) + dt.timedelta(days=4)
    return following - dt.timedelta(days=following.day)


def close_date_split(
    close_from: dt.date | None, close_to: dt.date | None
) -> tuple[tuple[int | None, int | None] | None, list[tuple[dt.date, dt.date]]]:
    """A close-date range as the whole months the running totals answer (first, last; None: open)
    and the stretches of partial months at its ends, which the opportunities answer (ADR 0073)."""
    day = dt.timedelta(days=1)
    scans = []
    first, last = close_from, close_to
    if close_from is not None and close_from.day != 1:
        end = _month_end(close_from) if close_to is None else min(_month_end(close_from), close_to)
        scans.append((close_from, end))
        first = end + day
    if close_to is not None and close_to != _month_end(close_to) and (first is None or first <= close_to):
        start = close_to.replace(day=1) if first is None else max(close_to.replace(day=1), first)
        scans.append((start, close_to))
        last = start - day
    if first is not None and last is not None and first > last:
        return None, scans
    return (None if first is None else _month_of(first), None if last is None else _month_of(last)), scans


def forecast_parts(spec: ForecastQuery) -> list[Any]:
    """What the forecast sums: the running totals for whole close months, and a scan of the
    opportunities (by the close_date index) for the partial months a date range cuts (ADR 0073)."""
    if spec.close_from and spec.close_to and spec.close_from > spec.close_to:
        return [_scanned(spec)]  # nothing matches; refused before it gets here anyway
    months, stretches = close_date_split(spec.close_from, spec.close_to)
    dated = spec.close_from is not None or spec.close_to is not None
    parts = [] if months is None else [_totalled(spec, months[0], months[1], dated)]
    parts += [_scanned(replace(spec, close_from=start, close_to=end)) for start, end in stretches]
    return parts


def _forecast_of(parts: list[Any]) -> Any:
    """One row per (period, owner, pipeline, currency) from per-stage sums: the few thousand groups
    joined to their stages and split by category and probability (ADR 0045)."""
    combined: Any = parts[0] if len(parts) == 1 else sa.union_all(*parts)
    inner = combined.subquery()
    category, probability = StageRow.category, StageRow.probability
    is_open, is_won = category == OPEN, category == WON

    def total(condition: Any, value: Any) -> Any:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, value), else_=0)), 0)

    outer_keys = [inner.c.period, inner.c.owner_id, inner.c.pipeline_id, inner.c.currency_code]
    return (
        sa.select(
            *outer_keys,
            total(is_open, inner.c.deals),
            total(is_open, inner.c.amount),
            total(is_open, inner.c.amount * probability),
            total(sa.and_(is_open, probability < rules.BEST_CASE_FROM), inner.c.amount),
            total(
                sa.and_(is_open, probability >= rules.BEST_CASE_FROM, probability < rules.COMMIT_FROM), inner.c.amount
            ),
            total(sa.and_(is_open, probability >= rules.COMMIT_FROM), inner.c.amount),
            total(is_won, inner.c.amount),
            total(is_won, inner.c.deals),
            total(category == LOST, inner.c.deals),
            total(is_won, inner.c.cycle),
        )
        .select_from(inner)
        .join(StageRow, StageRow.id == inner.c.stage_id)
        .group_by(*outer_keys)
        .order_by(*outer_keys)
    )


def forecast_statement(spec: ForecastQuery) -> Any:
    """The forecast aggregate: one row per (period, owner, pipeline, currency), all in SQL, from the
    running totals (and the partial months of a close-date range from the opportunities)."""
    return _forecast_of(forecast_parts(spec))


def forecast_scan_statement(spec: ForecastQuery) -> Any:
    """The same aggregate from one pass over every opportunity in scope, as before the running
    totals (ADR 0045): what the totals must equal, and the benchmark's raw baseline."""
    return _forecast_of([_scanned(spec)])


def forecast_rows(session: Session, spec: ForecastQuery, *, scan: bool = False) -> list[ForecastTotals]:
    """The forecast's rows; `scan` sums every opportunity instead of the running totals (checks)."""
    if session.get_bind().dialect.name == "postgresql":
        # In-memory hash aggregation, and no JIT compilation for a query that runs well under a second.
        session.execute(sa.text("SET LOCAL work_mem = '64MB'"))
        session.execute(sa.text("SET LOCAL jit = off"))
    rows = session.execute(forecast_scan_statement(spec) if scan else forecast_statement(spec))
    return [
        ForecastTotals(period_label(row[0], spec.quarterly), *(row[1:4]), *(int(v) for v in row[4:])) for row in rows
    ]


def stage_flows(session: Session, spec: ForecastQuery) -> list[rules.FlowTotal]:
    """The stage history summed per (from, to) pair: conversions and typical stays follow from these
    few rows (ADR 0045). Unfiltered (or by pipeline) from the running totals; by owner or close date
    with one scan of the history joined to the opportunities."""
    if not (spec.owner_id or spec.close_from or spec.close_to):  # the running totals answer it
        totals = sa.select(
            StageFlowRow.from_stage_id,
            StageFlowRow.to_stage_id,
            StageFlowRow.entered,
            StageFlowRow.stay_seconds,
            StageFlowRow.stays,
        ).where(StageFlowRow.tenant_id == spec.tenant_id)
        if spec.pipeline_id:
            totals = totals.where(StageFlowRow.pipeline_id == spec.pipeline_id)
        return [rules.FlowTotal(r[0], r[1], int(r[2]), int(r[3]), int(r[4])) for r in session.execute(totals)]
    history = StageHistoryRow
    query = sa.select(
        history.from_stage_id,
        history.to_stage_id,
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(history.duration_seconds), 0),
        sa.func.count(history.duration_seconds),
    ).where(history.tenant_id == spec.tenant_id)
    if spec.pipeline_id:
        query = query.where(history.pipeline_id == spec.pipeline_id)
    if spec.owner_id or spec.close_from or spec.close_to:
        query = _opportunity_scope(query.join(OpportunityRow, OpportunityRow.id == history.opportunity_id), spec)
    query = query.group_by(history.from_stage_id, history.to_stage_id)
    return [rules.FlowTotal(r[0], r[1], int(r[2]), int(r[3]), int(r[4])) for r in session.execute(query)]


def tenant_stages(session: Session, tenant_id: str) -> list[rules.PlacedStage]:
    """Every stage of the tenant, in pipeline order."""
    query = sa.select(StageRow).where(StageRow.tenant_id == tenant_id).order_by(StageRow.pipeline_id, StageRow.position)
    return [
        rules.PlacedStage(
            r.pipeline_id, r.position, Stage(r.id, r.name, r.probability, r.category, tuple(r.required_fields))
        )
        for r in session.scalars(query)
    ]


@dataclass(frozen=True)
class RiskRow:
    id: str
    name: str
    owner_id: str
    update_time: dt.datetime
    close_date: dt.date | None
    stage_id: str
    stage_enter_epoch: int


def at_risk(
    session: Session,
    spec: ForecastQuery,
    now: dt.datetime,
    stale_days: int,
    typical_seconds: dict[str, float],
    limit: int,
) -> list[RiskRow]:
    """Open deals unchanged for `stale_days`, past their close date, or longer in their stage than
    its typical stay, least recently changed first (the index on update_time serves the order)."""
    stale_before = now - dt.timedelta(days=stale_days)
    stuck = [
        sa.and_(OpportunityRow.stage_id == stage_id, OpportunityRow.stage_enter_epoch < epoch(now) - int(seconds))
        for stage_id, seconds in sorted(typical_seconds.items())
    ]
    query = (
        sa.select(
            OpportunityRow.id,
            OpportunityRow.name,
            OpportunityRow.owner_id,
            OpportunityRow.update_time,
            OpportunityRow.close_date,
            OpportunityRow.stage_id,
            OpportunityRow.stage_enter_epoch,
        )
        .join(StageRow, StageRow.id == OpportunityRow.stage_id)
        .where(
            StageRow.category == OPEN,
            sa.or_(OpportunityRow.update_time < stale_before, OpportunityRow.close_date < now.date(), *stuck),
        )
    )
    query = _opportunity_scope(query, spec).order_by(OpportunityRow.update_time, OpportunityRow.id).limit(limit)
    return [RiskRow(*row) for row in session.execute(query)]


# --- products and quotes -----------------------------------------------------------------------


def _product(row: ProductRow) -> Product:
    data = ProductFields(
        sku=row.sku,
        name=row.name,
        description=row.description,
        unit_price=Money.of_minor(row.currency_code, row.unit_price_minor),
        tax_rate_percent=row.tax_rate_percent,
        active=row.active,
    )
    return Product(row.id, row.tenant_id, data, row.create_time, row.update_time, row.etag)


def _write_product(row: ProductRow, product: Product) -> None:
    data = product.data
    assert data.unit_price is not None
    row.sku, row.sku_key, row.name, row.description = data.sku, data.sku.lower(), data.name, data.description
    row.currency_code, row.unit_price_minor = data.unit_price.currency, data.unit_price.minor
    row.tax_rate_percent, row.active = data.tax_rate_percent, data.active
    row.update_time, row.etag = product.update_time, product.etag


def add_product(session: Session, product: Product) -> None:
    row = ProductRow(id=product.id, tenant_id=product.tenant_id, create_time=product.create_time)
    _write_product(row, product)
    session.add(row)
    session.flush()


def save_product(session: Session, product: Product) -> None:
    row = session.scalars(
        sa.select(ProductRow).where(ProductRow.tenant_id == product.tenant_id, ProductRow.id == product.id)
    ).one()
    _write_product(row, product)
    session.flush()


def product_with_sku(session: Session, tenant_id: str, sku: str) -> str | None:
    query = sa.select(ProductRow.id).where(ProductRow.tenant_id == tenant_id, ProductRow.sku_key == sku.lower())
    return session.scalars(query).first()


def get_product(session: Session, tenant_id: str, product_id: str, *, for_update: bool = False) -> Product | None:
    query = sa.select(ProductRow).where(ProductRow.tenant_id == tenant_id, ProductRow.id == product_id)
    if for_update:
        query = query.with_for_update()
    row = session.scalars(query).first()
    return None if row is None else _product(row)


def products_by_id(session: Session, tenant_id: str, ids: set[str]) -> dict[str, Product]:
    rows = session.scalars(sa.select(ProductRow).where(ProductRow.tenant_id == tenant_id, ProductRow.id.in_(ids)))
    return {r.id: _product(r) for r in rows}


def page_products(session: Session, tenant_id: str, after: str | None, limit: int) -> list[Product]:
    query = sa.select(ProductRow).where(ProductRow.tenant_id == tenant_id)
    if after:
        query = query.where(ProductRow.id > after)
    return [_product(r) for r in session.scalars(query.order_by(ProductRow.id).limit(limit))]


def next_quote_sequence(session: Session, tenant_id: str) -> int:
    """The tenant's next quote number; the counter row lock serialises concurrent creators."""
    row = session.scalars(
        sa.select(QuoteCounterRow).where(QuoteCounterRow.tenant_id == tenant_id).with_for_update()
    ).first()
    if row is None:
        row = QuoteCounterRow(tenant_id=tenant_id, last_sequence=0)
        session.add(row)
    row.last_sequence += 1
    session.flush()
    return row.last_sequence


def _line_json(line: Line) -> dict[str, Any]:
    return {
        "productId": line.product_id,
        "sku": line.sku,
        "name": line.name,
        "quantity": str(line.quantity),
        "unitPriceMinor": line.unit_price.minor,
        "discountPercent": str(line.discount_percent),
        "taxRatePercent": str(line.tax_rate_percent),
        "netMinor": line.net.minor,
        "taxMinor": line.tax.minor,
    }


def _line(currency: str, value: dict[str, Any]) -> Line:
    net, tax = Money.of_minor(currency, value["netMinor"]), Money.of_minor(currency, value["taxMinor"])
    return Line(
        value["productId"],
        value["sku"],
        value["name"],
        Decimal(value["quantity"]),
        Money.of_minor(currency, value["unitPriceMinor"]),
        Decimal(value["discountPercent"]),
        Decimal(value["taxRatePercent"]),
        net,
        tax,
        Money(currency, net.amount + tax.amount),
    )


def _quote(row: QuoteRow) -> Quote:
    currency = row.currency_code
    totals = Totals(
        Money.of_minor(currency, row.net_minor),
        Money.of_minor(currency, row.tax_minor),
        Money.of_minor(currency, row.grand_minor),
    )
    return Quote(
        row.id,
        row.tenant_id,
        row.number,
        row.opportunity_id,
        currency,
        tuple(_line(currency, v) for v in row.lines),
        totals,
        row.status,
        row.contact_id,
        row.account_id,
        row.owner_id,
        row.create_time,
        row.update_time,
        row.etag,
    )


def _write_quote(row: QuoteRow, quote: Quote) -> None:
    row.currency_code, row.lines = quote.currency, [_line_json(line) for line in quote.lines]
    row.net_minor, row.tax_minor = quote.totals.net.minor, quote.totals.tax.minor
    row.grand_minor, row.status = quote.totals.grand.minor, quote.status
    row.update_time, row.etag = quote.update_time, quote.etag


def add_quote(session: Session, quote: Quote, sequence: int) -> None:
    row = QuoteRow(
        id=quote.id,
        tenant_id=quote.tenant_id,
        sequence=sequence,
        number=quote.number,
        opportunity_id=quote.opportunity_id,
        contact_id=quote.contact_id,
        account_id=quote.account_id,
        owner_id=quote.owner_id,
        create_time=quote.create_time,
    )
    _write_quote(row, quote)
    session.add(row)


def save_quote(session: Session, quote: Quote) -> None:
    row = session.scalars(
        sa.select(QuoteRow).where(QuoteRow.tenant_id == quote.tenant_id, QuoteRow.id == quote.id)
    ).one()
    _write_quote(row, quote)


def get_quote(session: Session, tenant_id: str, quote_id: str, *, for_update: bool = False) -> Quote | None:
    query = sa.select(QuoteRow).where(QuoteRow.tenant_id == tenant_id, QuoteRow.id == quote_id)
    if for_update:
        query = query.with_for_update()
    row = session.scalars(query).first()
    return None if row is None else _quote(row)


def page_quotes(
    session: Session, tenant_id: str, opportunity_id: str, owner_id: str | None, after: str | None, limit: int
) -> list[Quote]:
    query = sa.select(QuoteRow).where(QuoteRow.tenant_id == tenant_id)
    if opportunity_id:
        query = query.where(QuoteRow.opportunity_id == opportunity_id)
    if owner_id is not None:
        query = query.where(QuoteRow.owner_id == owner_id)
    if after:
        query = query.where(QuoteRow.id > after)
    return [_quote(r) for r in session.scalars(query.order_by(QuoteRow.id).limit(limit))]


def quotes_of(session: Session, tenant_id: str, opportunity_id: str) -> int:
    query = sa.select(sa.func.count()).where(QuoteRow.tenant_id == tenant_id, QuoteRow.opportunity_id == opportunity_id)
    return int(session.scalar(query) or 0)
