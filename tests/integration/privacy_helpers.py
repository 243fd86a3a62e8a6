"""Helpers for the privacy-request tests: a hand-driven relay between services' outboxes and
consumers, and a scan of whole databases for personal data."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sqlalchemy as sa

from crmkit.db import Database, utcnow
from crmkit.events.transport import Verdict
from crmkit.module import ServiceModule

TEXT_TYPES = ("text", "character varying", "character", "json", "jsonb", "bytea", "ARRAY")


class HandRelay:
    """The relay and the broker by hand: every unsent outbox row of the modules goes to the
    consumers subscribed to its type, once each; `to` holds back the other services' consumers
    (the row then stays unsent until a later call delivers it to them)."""

    def __init__(self, modules: Sequence[ServiceModule]) -> None:
        self.modules = modules
        self.handed: set[tuple[str, str]] = set()  # (outbox row id, consumer name)

    def deliver(self, to: Iterable[str] | None = None) -> int:
        targets = set(to) if to is not None else {m.name for m in self.modules}
        delivered = 0
        while True:
            moved = 0
            for module in self.modules:
                assert module.outbox is not None
                table = module.outbox.table
                with module.database.transaction() as session:
                    rows = session.execute(
                        sa.select(table.c.id, table.c.event_type, table.c.payload)
                        .where(table.c.sent_at.is_(None))
                        .order_by(table.c.id)
                    ).all()
                for row in rows:
                    subscribed = [
                        (m.name, c)
                        for m in self.modules
                        for c in m.consumers
                        if row.event_type in c.subscription.bindings
                    ]
                    for service, consumer in subscribed:
                        if service in targets and (row.id, consumer.name) not in self.handed:
                            outcome = consumer.handle(row.payload, 0)
                            assert outcome.verdict is Verdict.ACK, (consumer.name, row.event_type, outcome.error)
                            self.handed.add((row.id, consumer.name))
                            moved += 1
                    if all((row.id, consumer.name) in self.handed for _, consumer in subscribed):
                        with module.database.transaction() as session:
                            session.execute(sa.update(table).where(table.c.id == row.id).values(sent_at=utcnow()))
            delivered += moved
            if not moved:
                return delivered


def find_personal_data(database: Database, needles: Sequence[str]) -> list[str]:
    """Every table.column of the database (all text, JSON, array and binary columns of every
    table, found through information_schema, so new tables are covered) holding a needle, any case."""
    hits = []
    with database.transaction() as session:
        columns = session.execute(
            sa.text(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'public' AND data_type = ANY(:types) ORDER BY table_name, column_name"
            ),
            {"types": list(TEXT_TYPES)},
        ).all()
        for table, column, data_type in columns:
            for needle in needles:
                if data_type == "bytea":
                    condition = f"position(convert_to(:needle, 'UTF8') in \"{column}\") > 0"
                    value = needle
                else:
                    condition = f'lower("{column}"::text) LIKE :needle'
                    value = f"%{needle.lower()}%"
                found = session.execute(
                    sa.text(f'SELECT count(*) FROM "{table}" WHERE {condition}'), {"needle": value}
                ).scalar_one()
                if found:
                    hits.append(f"{table}.{column} holds {needle!r}")
    return hits
