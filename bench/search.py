"""Search: contact listings with filters and free text `q` over a large tenant (default 1,000,000
contacts, loaded with COPY), through the contacts use-case layer, versus the very same SQL statements
replayed with psycopg directly in the same run.

    python -m bench.search --size 1000000
    python -m bench.search --size 1000000 --keep   # load once, reuse the loaded database next time

Loading takes minutes at 1M; `--keep` (`bench.run --keep-search-database`) leaves the loaded
database (`crmbench_search_<size>`) in place and a later run with the flag measures it without
loading again. Only reads are measured, so a kept database serves any number of runs; drop it with
`DROP DATABASE crmbench_search_1000000`. It needs a PostgreSQL that outlives the run (not a
testcontainers one).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import time
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy import event as sa_event

from bench.measure import closed_loop, ratio
from crmkit.db import Database
from crmkit.events.outbox import Outbox
from crmkit.tokens import Principal
from services.contacts.store import OUTBOX
from services.contacts.usecases import Contacts

TENANT = "TBENCHSEARCH000000000000000"[:26]
CALLER = Principal(TENANT, "bench", frozenset({"admin"}))
GIVEN = ["ada", "grace", "hedy", "alan", "edsger", "barbara", "donald", "ken", "linus", "margaret"] * 5
FAMILY = [f"family{n}" for n in range(2000)]
STAGES = ["SUBSCRIBER", "LEAD", "MARKETING_QUALIFIED_LEAD", "SALES_QUALIFIED_LEAD", "OPPORTUNITY", "CUSTOMER"]
QUERIES = {
    "filter lifecycleStage = CUSTOMER": {"filter": "lifecycleStage = CUSTOMER"},
    "filter tags:vip": {"filter": "tags:vip"},
    "filter familyName, order by createTime desc": {"filter": 'familyName = "family42"', "order_by": "createTime desc"},
    "q rare surname": {"q": "lovelace"},
    "q email fragment": {"q": "family1234."},
    "q + filter": {"q": "ada family77", "filter": "lifecycleStage = LEAD"},
}
COLUMNS = (
    "id, tenant_id, given_name, family_name, email, email_key, phone, title, owner_id, lifecycle_stage, "
    "account_ids, tags, custom_fields, create_time, update_time, etag, search_text"
)


def kept_database(admin_url: str, size: int) -> tuple[str, bool]:
    """The search database kept between runs (created when missing, migrated to head), and whether
    it holds the full load of `size` contacts already (if not, it is emptied for a fresh load)."""
    from crmkit.migrations import upgrade
    from tests.infra import migrations_of

    name = f"crmbench_search_{size}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as connection:
            exists = connection.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not exists:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    url = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    upgrade(migrations_of("contacts"), url)
    if loaded(url, size):
        return url, True
    with psycopg.connect(_libpq(url)) as connection:
        connection.execute("TRUNCATE contacts")
    return url, False


def loaded(url: str, size: int) -> bool:
    """Whether the database holds exactly the bench tenant's `size` contacts and their trigram index
    (the load is one transaction, so a run stopped while loading leaves none)."""
    with psycopg.connect(_libpq(url)) as connection:
        count = connection.execute("SELECT count(*) FROM contacts WHERE tenant_id = %s", (TENANT,)).fetchone()
        others = connection.execute("SELECT 1 FROM contacts WHERE tenant_id <> %s LIMIT 1", (TENANT,)).fetchone()
        index = connection.execute("SELECT to_regclass('ix_contacts_search_trgm')").fetchone()
    return count is not None and count[0] == size and others is None and index is not None and index[0] is not None


def load(url: str, size: int) -> None:
    """`size` contacts of one tenant with COPY; the trigram index is rebuilt after the load."""
    rng = random.Random(7)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    with psycopg.connect(_libpq(url)) as connection:
        connection.execute("DROP INDEX IF EXISTS ix_contacts_search_trgm")
        with connection.cursor().copy(f"COPY contacts ({COLUMNS}) FROM STDIN") as copy:
            for n in range(size):
                given = GIVEN[n % len(GIVEN)]
                family = "lovelace" if n % 100_000 == 7 else FAMILY[rng.randrange(len(FAMILY))]
                email = f"{given}.{family}{n}@example{n % 997}.com"
                phone = f"+1415{n:07d}"
                created = start + dt.timedelta(seconds=n)
                tags = '["vip"]' if n % 20 == 0 else "[]"
                search = f"{given} {family} {email} {phone}"
                row = [f"{n:026d}", TENANT, given, family, email, email, phone, "", "", STAGES[n % len(STAGES)]]
                copy.write_row([*row, "[]", tags, "{}", created, created, "e", search])
        connection.execute("CREATE INDEX ix_contacts_search_trgm ON contacts USING gin (search_text gin_trgm_ops)")
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE contacts")


def _libpq(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def run(size: int, contacts_url: str, requests: int = 200, reuse: bool = False) -> dict[str, Any]:
    """Measure the queries; `reuse`: the database holds the load already (a kept one), so skip it."""
    started = time.perf_counter()
    if reuse:
        loading = "loaded by an earlier run and kept"
    else:
        load(contacts_url, size)
        loading = f"{round(time.perf_counter() - started, 1)} s"
    database = Database(contacts_url)
    contacts = Contacts(database, Outbox("contacts", OUTBOX))
    ours: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    ratios: dict[str, float] = {}
    try:
        with psycopg.connect(_libpq(contacts_url), autocommit=True) as connection:
            for name, query in QUERIES.items():

                def call(query: dict[str, str] = query) -> None:
                    contacts.list(
                        CALLER, 50, "", query.get("filter", ""), query.get("order_by", ""), query.get("q", "")
                    )

                statements = _statements(database, call)
                ours[name] = closed_loop(call, requests, concurrency=1, warmup=5).as_dict()

                def replay(statements: list[tuple[str, Any]] = statements) -> None:
                    with connection.transaction():  # as the service runs them (SET LOCAL needs one)
                        for sql, params in statements:
                            cursor = connection.execute(sql, params)
                            if cursor.description is not None:
                                cursor.fetchall()

                raw[name] = closed_loop(replay, requests, concurrency=1, warmup=5).as_dict()
                ratios[f"{name}: p99 vs raw p99"] = ratio(ours[name]["p99_ms"], raw[name]["p99_ms"])
    finally:
        database.dispose()
    worst = max(v["p99_ms"] for v in ours.values())
    return {
        "scenario": "search",
        "setup": f"{size} contacts of one tenant (COPY, then GIN trigram index and VACUUM ANALYZE, {loading}); "
        f"{requests} sequential ListContacts pages of 50 per query through the use-case layer; the baseline replays "
        "the same SQL statements (page and associations) in one transaction with psycopg on one connection",
        "ours": ours,
        "baselines": {"raw_psycopg_same_sql": raw},
        "ratios": ratios,
        "goals": {"p99 < 50 ms for every query (issue #10)": worst < 50},
    }


def _statements(database: Database, call: Any) -> list[tuple[str, Any]]:
    """The SQL statements one call executes (without the transaction's own BEGIN/COMMIT)."""
    captured: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        captured.append((statement, parameters))

    sa_event.listen(database.engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        sa_event.remove(database.engine, "before_cursor_execute", record)
    return captured


def main() -> int:
    from crmkit.migrations import upgrade
    from tests.infra import Databases, migrations_of, postgres_admin_url

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=1_000_000, help="contacts to load")
    parser.add_argument("--keep", action="store_true", help="keep the loaded database and reuse a kept one")
    args = parser.parse_args()
    with postgres_admin_url() as admin_url:
        if args.keep:
            url, reuse = kept_database(admin_url, args.size)
            print(json.dumps(run(args.size, url, reuse=reuse), indent=2))
            return 0
        databases = Databases(admin_url)
        try:
            url = databases.create("bench_search")
            upgrade(migrations_of("contacts"), url)
            print(json.dumps(run(args.size, url), indent=2))
        finally:
            databases.drop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
