"""Forecast: GetSalesForecast's use case (the per-period/owner/pipeline/currency aggregate, the stage
conversions and the at-risk scan) over N opportunities of one tenant, loaded with COPY — versus the
aggregate computed by scanning the opportunities (what the service did before its running totals,
ADR 0073), run directly with psycopg on the same data.

    python -m bench.forecast --size 1000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import time
from typing import Any

import psycopg
from sqlalchemy.dialects import postgresql

from bench.measure import ratio
from crmkit.db import Database
from crmkit.ids import new_id
from crmkit.migrations import upgrade
from crmkit.tokens import Principal
from services.sales import deal_store as store
from services.sales.domain.pipelines import LOST, OPEN, WON, PipelineFields, Stage
from services.sales.forecast import SalesAnalytics
from services.sales.pipelines import Pipelines
from tests.infra import Databases, migrations_of, postgres_admin_url

TENANT = "TBENCH"
OWNERS = [f"user:{i}" for i in range(25)]
CURRENCIES = ["EUR", "USD", "JPY"]
REPEATS = 5
COLUMNS = (
    "id, tenant_id, name, account_id, contact_id, pipeline_id, stage_id, currency_code, amount_minor, close_date, "
    "close_month, "
    "owner_id, close_reason, create_time, update_time, stage_enter_time, closed_time, create_epoch, "
    "stage_enter_epoch, closed_epoch, etag"
)
HISTORY = "id, tenant_id, opportunity_id, pipeline_id, from_stage_id, to_stage_id, to_stage_name, enter_time, "
HISTORY += "leave_time, duration_seconds, actor, reason"


def _load(url: str, size: int) -> None:
    """One pipeline of six stages; `size` opportunities and their stage history, by COPY."""
    database = Database(url)
    principal = Principal(TENANT, "bench", frozenset({"sales:write"}))
    stages = (
        Stage("", "Lead", 10, OPEN),
        Stage("", "Qualified", 30, OPEN),
        Stage("", "Proposal", 60, OPEN),
        Stage("", "Commit", 90, OPEN),
        Stage("", "Won", 100, WON),
        Stage("", "Lost", 0, LOST),
    )
    pipeline = Pipelines(database).create(principal, PipelineFields("Bench", stages))
    database.dispose()
    placed = pipeline.data.stages
    rng = random.Random(7)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    epoch_now = int(now.timestamp())
    raw_url = url.replace("postgresql+psycopg://", "postgresql://")
    # One COPY per connection at a time: the history goes through a second connection.
    with (
        psycopg.connect(raw_url) as connection,
        psycopg.connect(raw_url) as second,
        connection.cursor().copy(f"COPY opportunities ({COLUMNS}) FROM STDIN") as opportunities,
        second.cursor().copy(f"COPY opportunity_stage_history ({HISTORY}) FROM STDIN") as history,
    ):
        for n in range(size):
            index = rng.randrange(len(placed))
            stage = placed[index]
            created = epoch_now - rng.randrange(400 * 86400)
            entered = created + rng.randrange(max(1, epoch_now - created))
            closed = entered if stage.category != OPEN else None
            currency = CURRENCIES[n % 3]
            close_date = (now + dt.timedelta(days=rng.randrange(-200, 400))).date()
            opportunity_id = new_id()
            stamp = dt.datetime.fromtimestamp(entered, dt.UTC)
            opportunities.write_row(
                (
                    opportunity_id,
                    TENANT,
                    f"Deal {n}",
                    "",
                    "",
                    pipeline.id,
                    stage.id,
                    currency,
                    rng.randrange(1, 10**7),
                    close_date,
                    close_date.year * 100 + close_date.month,
                    OWNERS[n % len(OWNERS)],
                    "",
                    dt.datetime.fromtimestamp(created, dt.UTC),
                    stamp,
                    stamp,
                    None if closed is None else stamp,
                    created,
                    entered,
                    closed,
                    "bench",
                )
            )
            if index > 0:  # it came from the first stage
                first = placed[0]
                history.write_row(
                    (
                        new_id(),
                        TENANT,
                        opportunity_id,
                        pipeline.id,
                        "",
                        first.id,
                        first.name,
                        dt.datetime.fromtimestamp(created, dt.UTC),
                        stamp,
                        entered - created,
                        "bench",
                        "",
                    )
                )
            history.write_row(
                (
                    new_id(),
                    TENANT,
                    opportunity_id,
                    pipeline.id,
                    placed[0].id if index else "",
                    stage.id,
                    stage.name,
                    stamp,
                    None,
                    None,
                    "bench",
                    "",
                )
            )
    # The forecast's running totals, which the service keeps with each write, recounted for the copied rows
    # (before the ANALYZE below, which then covers them too).
    database = Database(url)
    try:
        with database.transaction() as session:
            store.rebuild_forecast_totals(session, TENANT)
    finally:
        database.dispose()
    with psycopg.connect(raw_url, autocommit=True) as connection:
        # The running stage totals the service keeps with each move, backfilled for the copied history.
        connection.execute(
            "INSERT INTO stage_flows SELECT tenant_id, pipeline_id, from_stage_id, to_stage_id, count(*), "
            "coalesce(sum(duration_seconds), 0), count(duration_seconds) FROM opportunity_stage_history "
            "GROUP BY 1, 2, 3, 4"
        )
        connection.execute("ANALYZE")


def _median_seconds(call: Any) -> float:
    call()  # warm the caches and the plan
    timings = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def run(size: int, url: str) -> dict[str, Any]:
    started = time.perf_counter()
    _load(url, size)
    loaded = time.perf_counter() - started
    database = Database(url)
    analytics = SalesAnalytics(database)
    spec = store.ForecastQuery(TENANT, quarterly=True)
    principal = Principal(TENANT, "bench", frozenset({"sales:read"}))
    try:
        found = analytics.forecast(principal, spec, 30)
        whole = _median_seconds(lambda: analytics.forecast(principal, spec, 30))
        with database.transaction() as session:
            aggregate = _median_seconds(lambda: store.forecast_rows(session, spec))
            scanned = store.forecast_rows(session, spec, scan=True)
            scan = _median_seconds(lambda: store.forecast_rows(session, spec, scan=True))
        compiled = store.forecast_scan_statement(spec).compile(
            dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
        )
        sql = str(compiled).replace("%%", "%")  # run without parameters: psycopg takes the text as it is
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
            # The same session settings the service uses (deal_store.forecast_rows).
            connection.execute("SET work_mem = '64MB'")
            connection.execute("SET jit = off")
            raw = _median_seconds(lambda: connection.execute(sql).fetchall())
    finally:
        database.dispose()
    return {
        "scenario": "forecast",
        "setup": f"{size} opportunities of one tenant (25 owners, 3 currencies, 6 stages) and their stage history, "
        f"loaded by COPY in {loaded:.1f} s, the forecast's running totals recounted after; GetSalesForecast by "
        f"quarter (aggregate from the running totals), median of {REPEATS}; baseline: the same aggregate by a scan "
        "of the opportunities, raw psycopg",
        "ours": {
            "forecast_seconds": round(whole, 4),
            "aggregate_seconds": round(aggregate, 4),
            "scan_aggregate_seconds": round(scan, 4),  # the service's aggregate before the running totals
            "rows": len(found.rows),
            "same_rows_as_scan": found.rows == scanned,
            "at_risk_listed": len(found.at_risk),
        },
        "baselines": {"raw_psycopg_aggregate": {"seconds": round(raw, 4)}},
        "ratios": {
            "aggregate_vs_raw": ratio(aggregate, raw),
            "scan_aggregate_vs_raw": ratio(scan, raw),
            "whole_forecast_vs_raw_aggregate": ratio(whole, raw),
        },
        "goals": {"whole forecast < 1 s": whole < 1.0},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark the sales forecast.")
    parser.add_argument("--size", type=int, default=1_000_000, help="opportunities to load")
    args = parser.parse_args()
    with postgres_admin_url() as admin_url:
        databases = Databases(admin_url)
        try:
            url = databases.create("bench_forecast")
            upgrade(migrations_of("sales"), url)
            print(json.dumps(run(args.size, url), indent=2))
        finally:
            databases.drop_all()


if __name__ == "__main__":
    main()
