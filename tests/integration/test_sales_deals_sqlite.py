"""The same sales use cases on SQLite (embedded `crm run --target all`): periods, sums and numbering."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa

from crmkit.db import Database
from crmkit.events.outbox import Outbox
from crmkit.migrations import upgrade
from crmkit.tokens import Principal
from services.sales import deal_store as store
from services.sales.domain.money import Money
from services.sales.domain.opportunities import OpportunityFields
from services.sales.domain.pipelines import LOST, OPEN, WON, PipelineFields, Stage
from services.sales.domain.quotes import LineInput
from services.sales.forecast import SalesAnalytics
from services.sales.module import MIGRATIONS
from services.sales.opportunities import Opportunities
from services.sales.pipelines import Pipelines
from services.sales.quotes import Quotes
from services.sales.store import OUTBOX

BOSS = Principal("T1", "user:boss", frozenset({"sales:read", "sales:write"}))


def test_forecast_and_quotes_work_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'sales.db'}"
    upgrade(MIGRATIONS, url)
    database = Database(url)
    outbox = Outbox("sales", OUTBOX)
    try:
        stages = (Stage("", "Open", 50, OPEN), Stage("", "Won", 0, WON), Stage("", "Lost", 0, LOST))
        pipeline = Pipelines(database).create(BOSS, PipelineFields("P", stages))
        opportunities = Opportunities(database, outbox, contacts=None)
        for units, month in ((Decimal("100.10"), 2), (Decimal("50"), 4)):
            data = OpportunityFields(
                name="D", pipeline_id=pipeline.id, amount=Money("EUR", units), close_date=dt.date(2027, month, 1)
            )
            opportunities.create(BOSS, data)
        found = SalesAnalytics(database).forecast(BOSS, store.ForecastQuery("T1", quarterly=True), 0)
        assert [(r.period, r.open_minor, r.weighted_minor_x100) for r in found.rows] == [
            ("2027-Q1", 10010, 500500),
            ("2027-Q2", 5000, 250000),
        ]
        monthly = SalesAnalytics(database).forecast(BOSS, store.ForecastQuery("T1"), 0)
        assert [r.period for r in monthly.rows] == ["2027-02", "2027-04"]
        [(opportunity, _)], _ = opportunities.list(BOSS, 1, "", "", "createTime")
        quotes = Quotes(database, outbox)
        lines = [LineInput(name="x", quantity="2", unit_price=Money("EUR", Decimal("0.50")))]
        numbers = [quotes.create(BOSS, opportunity.id, "", lines).number for _ in range(2)]
        assert numbers == ["Q-000001", "Q-000002"]
        with database.transaction() as session:
            assert session.scalar(sa.select(sa.func.count()).select_from(OUTBOX)) == 2
    finally:
        database.dispose()
