"""Shared pieces of data-subject requests (docs/adr/0048): the identifiers a person is found by,
scrubbing them out of free text, and dropping the events that still carry them from an outbox."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from crm.events.v1.envelope_pb2 import Envelope
from google.protobuf import struct_pb2
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from crmkit.db import Database
from crmkit.events.consumer import EventConsumer, Handles
from crmkit.events.outbox import Outbox

ERASED = "[erased]"
# Names shorter than this are too likely to be ordinary words to be replaced in free text.
MIN_NAME_LENGTH = 3


@dataclass(frozen=True)
class Identifiers:
    """What other services find and scrub a person by: emails, phones and names (never empty strings)."""

    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    names: tuple[str, ...] = ()

    @classmethod
    def of(cls, emails: Iterable[str], phones: Iterable[str], names: Iterable[str]) -> Identifiers:
        return cls(_clean(emails), _clean(phones), _clean(names))

    @property
    def needles(self) -> tuple[str, ...]:
        """The strings to remove from free text, longest first (a full name before its parts)."""
        names = [n for n in self.names if len(n) >= MIN_NAME_LENGTH]
        return tuple(sorted({*self.emails, *self.phones, *names}, key=lambda s: (-len(s), s)))

    @property
    def email_keys(self) -> tuple[str, ...]:
        return tuple(sorted({e.lower() for e in self.emails}))


def _clean(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip() for v in values if v and v.strip()))


def scrub(text: str, needles: Sequence[str]) -> str:
    """The text with every needle (any case) replaced by [erased]."""
    if not text or not needles:
        return text
    pattern = re.compile("|".join(re.escape(n) for n in needles), re.IGNORECASE)
    return pattern.sub(ERASED, text)


def contains(text: str, needles: Sequence[str]) -> bool:
    lowered = (text or "").lower()
    return any(n.lower() in lowered for n in needles)


def purge_outbox(session: Session, outbox: sa.Table, needles: Sequence[str]) -> int:
    """Delete the outbox rows whose serialized event contains a needle (sent or not: an unsent
    event about an erased person would carry the data back into the services that just erased it).
    Matching is on the exact bytes, as services store the identifiers they were given."""
    if not needles:
        return 0
    result = session.execute(sa.delete(outbox).where(holds_bytes(outbox.c.payload, needles)))
    return result.rowcount or 0  # type: ignore[attr-defined]


def holds_bytes(column: sa.SQLColumnExpression[bytes], needles: Sequence[str]) -> sa.ColumnElement[bool]:
    """SQL: the binary column contains some needle's exact UTF-8 bytes (PostgreSQL or SQLite)."""
    return sa.or_(*(_position(column, sa.literal(n.encode(), sa.LargeBinary())) > 0 for n in needles))


class _position(FunctionElement[int]):
    """position(needle in haystack) on PostgreSQL, instr(haystack, needle) elsewhere (SQLite)."""

    type = sa.Integer()
    inherit_cache = True


@compiles(_position, "postgresql")
def _position_postgresql(element: _position, compiler: Any, **kw: Any) -> str:
    haystack, needle = list(element.clauses)
    return f"position({compiler.process(needle, **kw)} in {compiler.process(haystack, **kw)})"


@compiles(_position)
def _position_default(element: _position, compiler: Any, **kw: Any) -> str:
    haystack, needle = list(element.clauses)
    return f"instr({compiler.process(haystack, **kw)}, {compiler.process(needle, **kw)})"


def mentions(columns: Sequence[sa.SQLColumnExpression[str]], needles: Sequence[str]) -> sa.ColumnElement[bool]:
    """SQL: some column contains some needle, in any case."""
    return sa.or_(
        *(sa.func.lower(column).contains(needle.lower(), autoescape=True) for column in columns for needle in needles)
    )


def scrub_rows(
    session: Session,
    table: Any,
    columns: Sequence[str],
    needles: Sequence[str],
    where: sa.ColumnElement[bool] | None = None,
) -> int:
    """Replace the needles in these text columns of every row of the sa.Table (matching `where`)
    mentioning one; the number of rows changed. The rows stay: this pseudonymises records that must be kept."""
    if not needles:
        return 0
    key = list(table.primary_key.columns)
    text_columns = [table.c[name] for name in columns]
    condition = mentions(text_columns, needles)
    if where is not None:
        condition = sa.and_(where, condition)
    rows = session.execute(sa.select(*key, *text_columns).where(condition)).all()
    for row in rows:
        values = {name: scrub(getattr(row, name), needles) for name in columns}
        session.execute(
            sa.update(table).where(*(column == getattr(row, column.name) for column in key)).values(**values)
        )
    return len(rows)


def scrub_bytes(data: bytes, needles: Sequence[str]) -> bytes:
    """Binary data (a stored upload) with each needle's exact bytes replaced by [erased]."""
    for needle in needles:
        data = data.replace(needle.encode(), ERASED.encode())
    return data


# A participating service's part: export(session, tenant, contact_id, identifiers) -> its section;
# erase(session, tenant, contact_id, identifiers) -> counts of what it deleted or pseudonymised.
Exporter = Callable[[Session, str, str, Identifiers], dict[str, Any]]
Eraser = Callable[[Session, str, str, Identifiers], dict[str, int]]


def participant(
    service: str, database: Database, inbox: sa.Table, outbox: Outbox, export: Exporter, erase: Eraser
) -> EventConsumer:
    """The consumer through which a service answers privacy requests: it does the service's part
    and writes its answer in the same transaction (the inbox makes a redelivery change nothing)."""
    from crm.contacts.v1 import privacy_pb2

    def on_export(session: Session, envelope: Envelope, event: privacy_pb2.PersonalDataExportRequested) -> None:
        found = Identifiers.of(event.emails, event.phones, event.names)
        section = struct_pb2.Struct()
        section.update(export(session, envelope.tenant, event.contact_id, found))
        answer = privacy_pb2.PersonalDataExported(request_id=event.request_id, service=service, document=section)
        outbox.add(session, answer, tenant_id=envelope.tenant, subject=event.request_id)

    def on_erase(session: Session, envelope: Envelope, event: privacy_pb2.PersonalDataErasureRequested) -> None:
        found = Identifiers.of(event.emails, event.phones, event.names)
        counts = dict(erase(session, envelope.tenant, event.contact_id, found))
        counts["events"] = counts.get("events", 0) + purge_outbox(session, outbox.table, found.needles)
        answer = privacy_pb2.PersonalDataErased(request_id=event.request_id, service=service, counts=counts)
        outbox.add(session, answer, tenant_id=envelope.tenant, subject=event.request_id)

    return EventConsumer(
        f"{service}.privacy",
        database,
        inbox,
        [
            Handles(privacy_pb2.PersonalDataExportRequested, on_export),  # type: ignore[arg-type]
            Handles(privacy_pb2.PersonalDataErasureRequested, on_erase),  # type: ignore[arg-type]
        ],
    )


def row_dict(row: Any, columns: Sequence[str]) -> dict[str, Any]:
    """A stored row as JSON-friendly values for an export section."""
    out: dict[str, Any] = {}
    for name in columns:
        value = getattr(row, name)
        out[name] = value.isoformat() if hasattr(value, "isoformat") else value
    return out
