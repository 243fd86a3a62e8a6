"""The forecast's running totals (ADR 0073) on PostgreSQL and SQLite: after any sequence of
opportunity writes — sequential or, on PostgreSQL, concurrent — they equal a recount from the
opportunities, and every forecast the API can ask for answers what the scan of the opportunities
answers."""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal

import pytest
import sqlalchemy as sa
from alembic import command

from crmkit.db import Database
from crmkit.errors import NotFound
from crmkit.events.outbox import Outbox
from crmkit.migrations import alembic_config, upgrade
from crmkit.tokens import Principal
from services.sales import deal_store as store
from services.sales.domain.money import Money
from services.sales.domain.opportunities import OpportunityFields
from services.sales.domain.pipelines import LOST, OPEN, WON, Pipeline, PipelineFields, Stage
from services.sales.forecast import SalesAnalytics
from services.sales.module import MIGRATIONS
from services.sales.opportunities import Opportunities
from services.sales.pipelines import Pipelines
from services.sales.store import OUTBOX

TENANT = "TFORECAST"
SCOPES = frozenset({"sales:read", "sales:write", "sales:manage"})
BOSS = Principal(TENANT, "user:boss", SCOPES)
OWNERS = ["user:boss", "user:ann", "user:bob"]
REP = Principal(TENANT, "user:ann", SCOPES, own_records_only=True)
CURRENCIES = ["EUR", "USD", "JPY"]
# Open stages on both sides of the best-case (60) and commit (90) thresholds.
STAGES = (
    Stage("", "New", 0, OPEN),
    Stage("", "Discovery", 59, OPEN),
    Stage("", "Proposal", 60, OPEN),
    Stage("", "Negotiation", 89, OPEN),
    Stage("", "Commit", 90, OPEN),
    Stage("", "Won", 100, WON),
    Stage("", "Lost", 0, LOST),
)
FIRST_DAY = dt.date(2027, 1, 1)
DAYS = 240  # close dates over eight months


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request, databases, tmp_path) -> Iterator[Database]:
    url = databases.create("sales") if request.param == "postgresql" else f"sqlite:///{tmp_path / 'sales.db'}"
    upgrade(MIGRATIONS, url)
    opened = Database(url)
    yield opened
    opened.dispose()


class Clock:
    """A clock that moves a random number of hours at each reading, so sales cycles differ."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
        self.lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self.lock:
            self.now += dt.timedelta(hours=self.rng.randrange(1, 200))
            return self.now


class Writer:
    """Random opportunity writes through the use cases: creates, updates of every field the forecast
    reads (amount and currency, stage, close date, owner, pipeline), clearing them, and deletes."""

    def __init__(self, database: Database, pipelines: list[Pipeline], rng: random.Random) -> None:
        self.opportunities = Opportunities(database, Outbox("sales", OUTBOX), contacts=None, clock=Clock(rng))
        self.pipelines = pipelines
        self.rng = rng

    def amount(self) -> Money | None:
        if self.rng.random() < 0.15:
            return None
        currency = self.rng.choice(CURRENCIES)
        minor = self.rng.randrange(1, 10**7)
        return Money(currency, Decimal(minor) if currency == "JPY" else Decimal(minor) / 100)

    def close_date(self) -> dt.date | None:
        return None if self.rng.random() < 0.1 else FIRST_DAY + dt.timedelta(days=self.rng.randrange(DAYS))

    def create(self) -> str:
        pipeline = self.rng.choice(self.pipelines)
        stage = self.rng.choice(pipeline.data.stages)
        data = OpportunityFields(
            name="Deal",
            pipeline_id=pipeline.id,
            stage_id=stage.id,
            amount=self.amount(),
            close_date=self.close_date(),
            owner_id=self.rng.choice(OWNERS),
            close_reason="price" if stage.category == LOST else "",
        )
        opportunity, _ = self.opportunities.create(BOSS, data)
        return opportunity.id

    def update(self, opportunity_id: str) -> None:
        pipeline = self.rng.choice(self.pipelines)
        patch = OpportunityFields(
            pipeline_id=pipeline.id,
            stage_id=self.rng.choice(pipeline.data.stages).id,
            amount=self.amount(),
            close_date=self.close_date(),
            owner_id=self.rng.choice(OWNERS),
            close_reason="price",
        )
        fields = ["pipeline_id", "stage_id", "amount", "close_date", "owner_id"]
        mask = self.rng.sample(fields, self.rng.randrange(1, len(fields) + 1))
        if "stage_id" in mask and "pipeline_id" not in mask:
            mask.append("pipeline_id")  # a stage of the pipeline drawn above
        self.opportunities.update(BOSS, opportunity_id, patch, [*mask, "close_reason"], "")

    def delete(self, opportunity_id: str) -> None:
        self.opportunities.delete(BOSS, opportunity_id, "")

    def run(self, steps: int, ids: list[str]) -> None:
        for _ in range(steps):
            roll = self.rng.random()
            try:
                if roll < 0.35 or not ids:
                    ids.append(self.create())
                elif roll < 0.85:
                    self.update(self.rng.choice(ids))
                else:
                    gone = self.rng.choice(ids)
                    self.delete(gone)
                    ids.remove(gone)
            except NotFound:  # another writer deleted it first
                pass


def make_pipelines(database: Database) -> list[Pipeline]:
    return [Pipelines(database).create(BOSS, PipelineFields(name, STAGES)) for name in ("New", "Renewals")]


def kept_and_recounted(database: Database) -> tuple[dict, dict]:
    table = store.ForecastTotalRow
    with database.transaction() as session:
        rows = session.execute(
            sa.select(
                table.tenant_id,
                table.close_month,
                table.owner_id,
                table.pipeline_id,
                table.currency_code,
                table.stage_id,
                table.deals,
                table.amount_minor,
                table.cycle_seconds,
            ).where(table.tenant_id == TENANT)
        ).all()
        recounted = session.execute(store.recounted_totals(TENANT)).all()
    # A total that fell back to no deal must be all zero; it is no group of the recount.
    kept = {tuple(r[:6]): tuple(int(v) for v in r[6:]) for r in rows if r[6] != 0 or r[7] != 0 or r[8] != 0}
    return kept, {tuple(r[:6]): tuple(int(v) for v in r[6:]) for r in recounted}


def assert_totals_are_a_recount(database: Database) -> None:
    kept, recounted = kept_and_recounted(database)
    assert recounted, "the scenario left opportunities to count"
    assert kept == recounted


def close_ranges(rng: random.Random) -> list[tuple[dt.date | None, dt.date | None]]:
    """No range, open-ended ones, whole months, ranges cut inside a month or within one month."""
    day = dt.timedelta(days=1)
    ranges: list[tuple[dt.date | None, dt.date | None]] = [
        (None, None),
        (dt.date(2027, 3, 1), None),
        (None, dt.date(2027, 4, 30)),
        (dt.date(2027, 2, 1), dt.date(2027, 5, 31)),
        (dt.date(2027, 2, 14), dt.date(2027, 2, 20)),
        (dt.date(2027, 3, 1), dt.date(2027, 3, 31)),
        (dt.date(2027, 1, 31), dt.date(2027, 2, 1)),
        (dt.date(2027, 2, 28), dt.date(2027, 3, 1)),
        (dt.date(2027, 2, 10), None),
        (None, dt.date(2027, 6, 12)),
    ]
    for _ in range(6):
        first = FIRST_DAY + rng.randrange(-20, DAYS + 20) * day
        ranges.append((first, first + rng.randrange(0, 120) * day))
    return ranges


def assert_every_forecast_equals_the_scan(database: Database, pipelines: list[Pipeline], rng: random.Random) -> None:
    answered = 0
    with database.transaction() as session:
        for quarterly in (False, True):
            for pipeline_id in ("", pipelines[1].id):
                for owner_id in ("", OWNERS[1]):
                    for close_from, close_to in close_ranges(rng):
                        spec = store.ForecastQuery(TENANT, quarterly, pipeline_id, owner_id, close_from, close_to)
                        found = store.forecast_rows(session, spec)
                        assert found == store.forecast_rows(session, spec, scan=True), spec
                        answered += len(found)
    assert answered > 100, "the comparisons saw rows"
    # Through the use case too, for a manager and for a sales rep (who forecasts its own deals).
    analytics = SalesAnalytics(database)
    for principal in (BOSS, REP):
        spec = store.ForecastQuery(TENANT, quarterly=True, close_from=dt.date(2027, 2, 3))
        found = analytics.forecast(principal, spec, 0)
        with database.transaction() as session:
            owner = principal.subject if principal.own_records_only else ""
            scanned = store.forecast_rows(session, replace(spec, owner_id=owner), scan=True)
        assert found.rows == scanned and found.rows


def test_the_totals_equal_a_recount_after_random_writes_and_the_forecast_is_unchanged(database):
    rng = random.Random(20261123)
    pipelines = make_pipelines(database)
    ids: list[str] = []
    Writer(database, pipelines, rng).run(300, ids)
    assert len(ids) > 30
    assert_totals_are_a_recount(database)
    assert_every_forecast_equals_the_scan(database, pipelines, rng)


def test_the_migration_fills_the_totals_from_the_opportunities_already_stored(database):
    rng = random.Random(7)
    pipelines = make_pipelines(database)
    Writer(database, pipelines, rng).run(120, [])
    url = database.engine.url.render_as_string(hide_password=False)
    with database.transaction() as session:
        session.execute(sa.update(store.ForecastTotalRow).values(deals=999))  # dropped with the table below
    command.downgrade(alembic_config(MIGRATIONS, url), "0003")
    upgrade(MIGRATIONS, url)
    assert_totals_are_a_recount(database)


def test_concurrent_writers_on_the_same_totals_lose_no_update(databases):
    url = databases.create("sales")
    upgrade(MIGRATIONS, url)
    database = Database(url)
    try:
        pipelines = make_pipelines(database)
        seed = Writer(database, pipelines, random.Random(1))
        shared = [seed.create() for _ in range(30)]
        errors: list[BaseException] = []
        start = threading.Barrier(4)

        def work(number: int) -> None:
            writer = Writer(database, pipelines, random.Random(number))
            try:
                start.wait()
                writer.run(60, shared)  # the same opportunities, so the same totals, for every thread
            except BaseException as error:  # reported below, with the thread's traceback
                errors.append(error)
                raise

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert_totals_are_a_recount(database)
        assert_every_forecast_equals_the_scan(database, pipelines, random.Random(2))
    finally:
        database.dispose()


def test_many_writers_adding_to_one_total_all_count(databases):
    url = databases.create("sales")
    upgrade(MIGRATIONS, url)
    database = Database(url)
    try:
        [pipeline, _] = make_pipelines(database)
        opportunities = Opportunities(database, Outbox("sales", OUTBOX), contacts=None)
        data = OpportunityFields(
            name="Same", pipeline_id=pipeline.id, amount=Money("EUR", Decimal("1.25")), close_date=FIRST_DAY
        )
        start = threading.Barrier(6)

        def work() -> None:
            start.wait()
            for _ in range(15):
                opportunities.create(BOSS, data)

        threads = [threading.Thread(target=work) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        kept, recounted = kept_and_recounted(database)
        assert kept == recounted
        assert list(kept.values()) == [(90, 90 * 125, 0)]
    finally:
        database.dispose()
