"""Segments: materialising a dynamic segment over a tenant's audience (the full rebuild a rule
change triggers) and re-evaluating one contact (what each contact event does), through the
marketing use-case layer, versus the same membership computed by hand-written SQL with psycopg in
the same run.

    python -m bench.segments --size 100000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from typing import Any

import psycopg
import sqlalchemy as sa

from bench.measure import figures, ratio
from crmkit.db import Database
from services.marketing import usecases
from services.marketing.usecases import SegmentFields, Segments

TENANT = "TBENCHSEGMENTS000000000000"[:26]
STAGES = ["SUBSCRIBER", "LEAD", "MARKETING_QUALIFIED_LEAD", "SALES_QUALIFIED_LEAD", "OPPORTUNITY", "CUSTOMER"]
RULES = {
    "all": [
        {"field": "lifecycleStage", "operator": "equals", "value": "CUSTOMER"},
        {"field": "tags", "operator": "contains", "value": "vip"},
    ]
}
RAW_PREDICATE = "lifecycle_stage = 'CUSTOMER' AND tags ? 'vip'"
COLUMNS = (
    "tenant_id, contact_id, email, given_name, family_name, lifecycle_stage, tags, source_update_time, "
    "deleted, phone, custom_fields"
)


def load(url: str, size: int) -> None:
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    with psycopg.connect(_libpq(url)) as connection:
        with connection.cursor().copy(f"COPY audience_members ({COLUMNS}) FROM STDIN") as copy:
            for n in range(size):
                tags = '["vip"]' if n % 5 == 0 else "[]"
                row = [TENANT, f"{n:026d}", f"m{n}@example.com", "Ada", f"F{n}", STAGES[n % len(STAGES)], tags]
                copy.write_row([*row, start, False, "", "{}"])
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE audience_members")


def _libpq(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def run(size: int, url: str, samples: int = 200) -> dict[str, Any]:
    load(url, size)
    database = Database(url)
    segments = Segments(database)
    try:
        started = time.perf_counter()
        segment = segments.create(TENANT, SegmentFields("bench", "DYNAMIC", RULES))
        rebuild_s = time.perf_counter() - started

        with psycopg.connect(_libpq(url)) as connection:
            started = time.perf_counter()
            connection.execute(
                "INSERT INTO segment_members (tenant_id, segment_id, contact_id) "
                f"SELECT tenant_id, 'RAW', contact_id FROM audience_members WHERE tenant_id = %s AND {RAW_PREDICATE}",
                (TENANT,),
            )
            connection.commit()
            raw_rebuild_s = time.perf_counter() - started
            raw_count = connection.execute("SELECT count(*) FROM segment_members WHERE segment_id = 'RAW'").fetchone()[
                0
            ]  # type: ignore[index]
        assert raw_count == segment.member_count, (raw_count, segment.member_count)

        ids = [f"{n:026d}" for n in range(0, size, max(1, size // samples))][:samples]
        ours = []
        for contact_id in ids:
            started = time.perf_counter()
            with database.transaction() as session:
                usecases.refresh_contact(session, TENANT, contact_id, dt.datetime.now(dt.UTC))
            ours.append(time.perf_counter() - started)
        raw = []
        with psycopg.connect(_libpq(url)) as connection:
            for contact_id in ids:
                started = time.perf_counter()
                connection.execute(
                    "DELETE FROM segment_members WHERE tenant_id = %s AND segment_id = 'RAW' AND contact_id = %s",
                    (TENANT, contact_id),
                )
                connection.execute(
                    "INSERT INTO segment_members (tenant_id, segment_id, contact_id) SELECT tenant_id, 'RAW', "
                    f"contact_id FROM audience_members WHERE tenant_id = %s AND contact_id = %s AND {RAW_PREDICATE}",
                    (TENANT, contact_id),
                )
                connection.commit()
                raw.append(time.perf_counter() - started)
        ours_fig, raw_fig = figures(ours, sum(ours)), figures(raw, sum(raw))
    finally:
        database.dispose()
    return {
        "scenario": "segments",
        "setup": f"{size} audience members of one tenant (COPY); one dynamic segment (lifecycleStage = CUSTOMER and "
        f"tag vip, {segment.member_count} members) created through the use-case layer (full rebuild), then "
        f"{len(ids)} single-contact re-evaluations (one transaction each); the baselines compute the same "
        "membership with one INSERT … SELECT and, per contact, a DELETE + INSERT … SELECT with psycopg",
        "ours": {
            "rebuild_seconds": round(rebuild_s, 3),
            "rebuild_members_per_second": round(size / rebuild_s, 1),
            "refresh_contact": ours_fig.as_dict(),
        },
        "baselines": {
            "raw_sql": {"rebuild_seconds": round(raw_rebuild_s, 3), "refresh_contact": raw_fig.as_dict()},
        },
        "ratios": {
            "rebuild_seconds": ratio(rebuild_s, raw_rebuild_s),
            "refresh_contact_p50": ratio(ours_fig.p50_ms, raw_fig.p50_ms),
        },
        "goals": {
            "rebuild ≥ 10,000 audience members per second": size / rebuild_s >= 10_000,
            "refresh of one contact p99 < 20 ms": ours_fig.p99_ms < 20,
        },
    }


def main() -> int:
    from crmkit.migrations import upgrade
    from tests.infra import Databases, migrations_of, postgres_admin_url

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=100_000)
    args = parser.parse_args()
    with postgres_admin_url() as admin_url:
        databases = Databases(admin_url)
        try:
            url = databases.create("bench_segments")
            upgrade(migrations_of("marketing"), url)
            json.dump(run(args.size, url), sys.stdout, indent=2)
        finally:
            databases.drop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
