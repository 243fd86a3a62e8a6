"""The audit log: every write through the gateway, appended to a per-tenant hash chain.

Each entry stores the hash of the tenant's previous entry and its own hash, SHA-256 over a
canonical serialisation of its fields (previous hash included); sequence numbers run 1, 2, 3...
per tenant. Appends of one tenant take turns on a row lock of the tenant's head row (SQLite:
BEGIN IMMEDIATE serialises writers anyway); (tenant, sequence) is unique as a second guard. The
database refuses UPDATE and DELETE of entries (triggers, migration 0003). `verify` walks a chain
and names the first entry that does not fit (docs/adr/0014).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crmkit import pagination
from crmkit.db import Database, utcnow
from crmkit.ids import new_id
from gateway.store import AuditEntryRow, AuditHeadRow

GENESIS = "0" * 64
# The fields a hash covers, in this order (the serialisation sorts keys anyway).
HASHED_FIELDS = (
    "tenant_id",
    "sequence",
    "time",
    "request_id",
    "principal",
    "http_method",
    "operation",
    "resource_template",
    "resource_path",
    "resource_id",
    "status",
    "previous_hash",
)
VERIFY_BATCH = 1000


@dataclass(frozen=True)
class Write:
    """What the gateway knows of a write once it has answered it."""

    tenant_id: str
    request_id: str
    principal: str
    http_method: str
    operation: str
    resource_template: str
    resource_path: str
    resource_id: str
    status: int


@dataclass(frozen=True)
class Verdict:
    tenant_id: str
    ok: bool
    entries: int
    # The first entry that does not fit, and why (None when the chain is whole).
    sequence: int | None = None
    reason: str = ""

    def as_dict(self) -> dict[str, object]:
        found: dict[str, object] = {"tenantId": self.tenant_id, "ok": self.ok, "entries": self.entries}
        if not self.ok:
            found.update(sequence=self.sequence, reason=self.reason)
        return found


def _time_text(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(fields: dict[str, object]) -> bytes:
    """The bytes an entry's hash covers: its fields as JSON, keys sorted, no spaces, UTF-8."""
    values = {name: fields[name] for name in HASHED_FIELDS}
    values["time"] = _time_text(values["time"])  # type: ignore[arg-type]
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(fields: dict[str, object]) -> str:
    return hashlib.sha256(canonical(fields)).hexdigest()


def _fields_of(row: AuditEntryRow) -> dict[str, object]:
    return {name: getattr(row, name) for name in HASHED_FIELDS}


class AuditLog:
    def __init__(self, database: Database) -> None:
        self.database = database

    def append(self, write: Write) -> AuditEntryRow:
        with self.database.transaction() as session:
            head = self._locked_head(session, write.tenant_id)
            # Microseconds: what both PostgreSQL and SQLite keep, so the hash survives a round trip.
            fields: dict[str, object] = {
                **write.__dict__,
                "sequence": head.sequence + 1,
                "time": utcnow(),
                "previous_hash": head.hash,
            }
            fields["resource_path"] = str(fields["resource_path"])[:1000]
            fields["resource_id"] = str(fields["resource_id"])[:200]
            row = AuditEntryRow(id=new_id(), hash=entry_hash(fields), **fields)
            session.add(row)
            head.sequence, head.hash = row.sequence, row.hash
            return row

    def _locked_head(self, session: Session, tenant_id: str) -> AuditHeadRow:
        query = sa.select(AuditHeadRow).where(AuditHeadRow.tenant_id == tenant_id).with_for_update()
        head = session.scalars(query).first()
        if head is not None:
            return head
        # The tenant's first entry: two gateways may both get here; one insert wins, the other
        # waits on it and then locks the row it made.
        try:
            with session.begin_nested():
                session.add(AuditHeadRow(tenant_id=tenant_id, sequence=0, hash=GENESIS))
        except sa.exc.IntegrityError:
            pass
        return session.scalars(query.execution_options(populate_existing=True)).one()

    def list(
        self, tenant_id: str, size: int, token: str, start: dt.datetime | None = None, end: dt.datetime | None = None
    ) -> tuple[list[AuditEntryRow], str]:
        scope = f"auditEntries:{tenant_id}:{start.isoformat() if start else ''}:{end.isoformat() if end else ''}"
        after = pagination.decode_cursor(token, scope)
        size = pagination.page_size(size)
        query = sa.select(AuditEntryRow).where(AuditEntryRow.tenant_id == tenant_id)
        if start is not None:
            query = query.where(AuditEntryRow.time >= start)
        if end is not None:
            query = query.where(AuditEntryRow.time < end)
        if after is not None:
            if not isinstance(after, str) or not after.isdigit():
                return [], ""
            query = query.where(AuditEntryRow.sequence > int(after))
        query = query.order_by(AuditEntryRow.sequence).limit(size + 1)
        with self.database.transaction() as session:
            rows = list(session.scalars(query))
        return pagination.page_of(rows, size, lambda r: str(r.sequence), scope)

    def _chain(self, tenant_id: str) -> Iterator[AuditEntryRow]:
        after = 0
        while True:
            query = (
                sa.select(AuditEntryRow)
                .where(AuditEntryRow.tenant_id == tenant_id, AuditEntryRow.sequence > after)
                .order_by(AuditEntryRow.sequence)
                .limit(VERIFY_BATCH)
            )
            with self.database.transaction() as session:
                rows = list(session.scalars(query))
            yield from rows
            if len(rows) < VERIFY_BATCH:
                return
            after = rows[-1].sequence

    def verify(self, tenant_id: str) -> Verdict:
        """Walk the tenant's chain from the first entry; the first entry that breaks it, and why."""
        expected, previous, count = 1, GENESIS, 0
        for row in self._chain(tenant_id):
            if row.sequence != expected:
                return Verdict(tenant_id, False, count, expected, f"entry {expected} is missing")
            if row.previous_hash != previous:
                return Verdict(tenant_id, False, count, row.sequence, "previous_hash is not the previous entry's hash")
            if entry_hash(_fields_of(row)) != row.hash:
                return Verdict(tenant_id, False, count, row.sequence, "hash does not match the entry's fields")
            expected, previous, count = expected + 1, row.hash, count + 1
        with self.database.transaction() as session:
            head = session.get(AuditHeadRow, tenant_id)
            if head is not None and (head.sequence, head.hash) != (count, previous):
                return Verdict(
                    tenant_id, False, count, count + 1, f"the chain ends at {count} but its head is at {head.sequence}"
                )
        return Verdict(tenant_id, True, count)
