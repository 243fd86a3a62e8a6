"""CSV import: rows/s of a contacts import job (upload in chunks, validate every row, stage with
COPY, write in batches with one event per batch) versus raw PostgreSQL `COPY` of the same file into
a bare table, in the same run.

    python -m bench.import --size 1000000
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

from bench.measure import ratio
from crmkit.db import Database
from crmkit.events.outbox import Outbox
from crmkit.migrations import upgrade
from crmkit.tokens import Principal
from services.contacts.imports import ImportJobs, ImportWorker
from services.contacts.store import OUTBOX
from tests.infra import Databases, migrations_of, postgres_admin_url

DEFAULT_ROWS = 1_000_000
CHUNK_BYTES = 700 * 1024  # what fits the gateway's 1 MiB body once base64-encoded
HEADER = ["First name", "Last name", "Email", "Phone", "Region", "Tags", "Stage"]
MAPPING = {
    "First name": "givenName",
    "Last name": "familyName",
    "Email": "email",
    "Phone": "phone",
    "Region": "customFields.region",
    "Tags": "tags",
    "Stage": "lifecycleStage",
}
ADMIN = Principal("TBENCH", "apikey:bench", frozenset({"contacts:import", "contacts:read"}))


def write_csv(path: Path, rows: int) -> int:
    generator = random.Random(7)
    regions = ["EMEA", "AMER", "APAC"]
    stages = ["LEAD", "CUSTOMER", "SUBSCRIBER", ""]
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(HEADER) + "\n")
        for i in range(rows):
            phone = f"+1415555{generator.randrange(10000):04d}" if i % 3 else ""
            out.write(
                f"Given{i},Family{i % 977},person{i}@example.com,{phone},{regions[i % 3]},"
                f"{'vip;newsletter' if i % 5 == 0 else ''},{stages[i % 4]}\n"
            )
    return path.stat().st_size


def raw_copy(url: str, path: Path) -> float:
    """Seconds for psycopg COPY ... FROM STDIN (FORMAT csv) of the file into a bare table."""
    dsn = sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as connection:
        connection.execute(
            "CREATE TABLE raw_import (given text, family text, email text, phone text, region text, tags text, "
            "stage text)"
        )
        started = time.perf_counter()
        with (
            connection.cursor() as cursor,
            cursor.copy("COPY raw_import FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
            path.open("rb") as source,
        ):
            while block := source.read(1024 * 1024):
                copy.write(block)
        connection.commit()
        return time.perf_counter() - started


def indexed_copies(url: str) -> dict[str, float]:
    """Seconds for COPYing the rows the import wrote (contacts, their blocking keys) into fresh
    copies of those tables with their real indexes, with and without the trigram index: the
    database's share of any import, whatever the Python in front of it (docs/adr/0077)."""
    dsn = sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    seconds: dict[str, float] = {}
    with psycopg.connect(dsn) as connection:
        data = {}
        for table in ("contacts", "contact_match_keys"):
            with connection.cursor() as cursor, cursor.copy(f"COPY {table} TO STDOUT") as copy:
                data[table] = b"".join(bytes(block) for block in copy)
        for name, source, indexes in (
            ("contacts", "contacts", "all"),
            ("contacts_without_trigram", "contacts", "btree"),
            ("contacts_without_indexes", "contacts", "none"),
            ("match_keys", "contact_match_keys", "all"),
            ("match_keys_without_indexes", "contact_match_keys", "none"),
        ):
            target = f"floor_{name}"
            including = "INCLUDING DEFAULTS" if indexes == "none" else "INCLUDING ALL"
            connection.execute(f"CREATE TABLE {target} (LIKE {source} {including})")
            if indexes == "btree":
                found = connection.execute(
                    "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexdef LIKE '%%gin_trgm_ops%%'",
                    (target,),
                ).fetchall()
                for (index,) in found:
                    connection.execute(f'DROP INDEX "{index}"')
            connection.commit()
            started = time.perf_counter()
            with connection.cursor() as cursor, cursor.copy(f"COPY {target} FROM STDIN") as copy:
                copy.write(data[source])
            connection.commit()
            seconds[name] = time.perf_counter() - started
    return seconds


def ours(url: str, path: Path) -> dict[str, float]:
    database = Database(url)
    try:
        jobs = ImportJobs(database)
        worker = ImportWorker(database, Outbox("contacts", OUTBOX))
        started = time.perf_counter()
        job = jobs.create(ADMIN, MAPPING, "EMAIL", False, False)
        count = 0
        with path.open("rb") as source:
            while block := source.read(CHUNK_BYTES):
                jobs.upload_chunk(ADMIN, job.id, count, block)
                count += 1
        jobs.start(ADMIN, job.id, count)
        uploaded = time.perf_counter()
        worker.run_until_idle()
        finished = time.perf_counter()
        done = jobs.get(ADMIN, job.id)
        if done.state != "SUCCEEDED" or done.rows_failed:
            raise RuntimeError(f"the import did not succeed: {done.state} {done.error_message}")
        with database.transaction() as session:
            events = session.scalar(sa.select(sa.func.count()).select_from(OUTBOX))
        return {
            "rows": done.rows_created,
            "seconds": finished - started,
            "upload_seconds": uploaded - started,
            "events": events or 0,
        }
    finally:
        database.dispose()


def run(rows: int, contacts_url: str, raw_url: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "contacts.csv"
        size = write_csv(path, rows)
        copy_seconds = raw_copy(raw_url, path)
        measured = ours(contacts_url, path)
        floors = indexed_copies(contacts_url)
    copy_rate = rows / copy_seconds
    our_rate = measured["rows"] / measured["seconds"]
    # What the database alone needs for the import's writes: the contacts rows and their blocking
    # keys with the tables' real indexes (an import that wrote nothing else could not be faster).
    floor_seconds = floors["contacts"] + floors["match_keys"]
    floor_rate = rows / floor_seconds

    def rate(seconds: float) -> float:
        return round(rows / seconds, 1)

    return {
        "scenario": "import",
        "setup": f"{rows} CSV rows ({size // 1024} KiB, 7 mapped columns incl. a custom field) imported as one job "
        f"through the use cases (chunks of {CHUNK_BYTES // 1024} KiB, validation, staging COPY, batches of 2000 with "
        "one ContactsImported event each) versus psycopg COPY of the same file into a bare table. "
        "indexed_copy: COPY of the rows the import wrote (contacts, ~8 blocking keys each) into copies of those "
        "tables with their real indexes (7 on contacts incl. the pg_trgm GIN index on search_text, 2 on the keys): "
        "the database's own floor for any import; its breakdown shows what the indexes cost",
        "ours": {
            "rows_per_second": round(our_rate, 1),
            "seconds": round(measured["seconds"], 2),
            "upload_seconds": round(measured["upload_seconds"], 2),
            "events": measured["events"],
        },
        "baselines": {
            "raw_copy": {"rows_per_second": round(copy_rate, 1), "seconds": round(copy_seconds, 2)},
            "indexed_copy": {
                "rows_per_second": round(floor_rate, 1),
                "seconds": round(floor_seconds, 2),
                "contacts_rows_per_second": rate(floors["contacts"]),
                "contacts_without_trigram_rows_per_second": rate(floors["contacts_without_trigram"]),
                "contacts_without_indexes_rows_per_second": rate(floors["contacts_without_indexes"]),
                "match_keys_contacts_per_second": rate(floors["match_keys"]),
                "match_keys_without_indexes_contacts_per_second": rate(floors["match_keys_without_indexes"]),
            },
        },
        "ratios": {
            "import_vs_raw_copy": ratio(our_rate, copy_rate),
            "import_vs_indexed_copy": ratio(our_rate, floor_rate),
            "indexed_copy_vs_raw_copy": ratio(floor_rate, copy_rate),
        },
        "goals": {"import >= 1/3 of raw COPY rows/s": our_rate >= copy_rate / 3},
    }


def prepared(databases: Databases) -> tuple[str, str]:
    contacts = databases.create("bench_import")
    upgrade(migrations_of("contacts"), contacts)
    return contacts, databases.create("bench_import_raw")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=DEFAULT_ROWS, help="rows in the CSV file")
    args = parser.parse_args()
    with postgres_admin_url() as admin_url:
        databases = Databases(admin_url)
        try:
            print(json.dumps(run(args.size, *prepared(databases)), indent=2))
        finally:
            databases.drop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
