"""Tables and queries of import jobs: the job, its uploaded chunks, staged rows and row errors.

Kept apart from store.py (the contacts themselves) but on the same metadata, so that one Alembic
history builds both. See docs/adr/0038.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from crmkit.db import JSONType, UTCDateTime
from services.contacts import store
from services.contacts.domain import Contact
from services.contacts.store import Base, ContactRow


class ImportJobRow(Base):
    __tablename__ = "import_jobs"
    __table_args__ = (
        sa.Index("ix_import_jobs_tenant_id_id", "tenant_id", "id"),
        sa.Index("ix_import_jobs_state", "state"),
    )

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    created_by: Mapped[str] = mapped_column(sa.String(200))
    state: Mapped[str] = mapped_column(sa.String(20))
    column_mapping: Mapped[dict[str, str]] = mapped_column(JSONType)
    match_key: Mapped[str] = mapped_column(sa.String(20))
    allow_partial: Mapped[bool] = mapped_column(sa.Boolean())
    validate_only: Mapped[bool] = mapped_column(sa.Boolean())
    chunks_received: Mapped[int] = mapped_column(sa.Integer())
    bytes_received: Mapped[int] = mapped_column(sa.BigInteger())
    chunk_count: Mapped[int] = mapped_column(sa.Integer())
    rows_total: Mapped[int] = mapped_column(sa.BigInteger())
    rows_processed: Mapped[int] = mapped_column(sa.BigInteger())
    rows_created: Mapped[int] = mapped_column(sa.BigInteger())
    rows_updated: Mapped[int] = mapped_column(sa.BigInteger())
    rows_failed: Mapped[int] = mapped_column(sa.BigInteger())
    progress_percent: Mapped[int] = mapped_column(sa.Integer())
    # Rows up to this number are written (IMPORTING resumes after it).
    applied_through: Mapped[int] = mapped_column(sa.BigInteger())
    error_message: Mapped[str] = mapped_column(sa.String(1000))
    # A worker holds the job until then; a crashed worker's job is taken over once it passes.
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    update_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ImportChunkRow(Base):
    __tablename__ = "import_chunks"

    job_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    sequence: Mapped[int] = mapped_column(sa.Integer(), primary_key=True)
    digest: Mapped[str] = mapped_column(sa.String(64))
    data: Mapped[bytes] = mapped_column(sa.LargeBinary())


class ImportStagedRow(Base):
    """A checked row waiting to be written: its match key and the normalised fields it sets."""

    __tablename__ = "import_rows"

    job_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    row_number: Mapped[int] = mapped_column(sa.BigInteger(), primary_key=True)
    match_key: Mapped[str] = mapped_column(sa.String(320))
    fields: Mapped[str] = mapped_column(sa.Text())


class ImportErrorRow(Base):
    __tablename__ = "import_errors"

    job_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    row_number: Mapped[int] = mapped_column(sa.BigInteger(), primary_key=True)
    position: Mapped[int] = mapped_column(sa.Integer(), primary_key=True)
    field: Mapped[str] = mapped_column(sa.String(200))
    message: Mapped[str] = mapped_column(sa.String(1000))


def get_job(session: Session, tenant_id: str, job_id: str, *, for_update: bool = False) -> ImportJobRow | None:
    query = sa.select(ImportJobRow).where(ImportJobRow.tenant_id == tenant_id, ImportJobRow.id == job_id)
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).first()


def claim_job(session: Session, states: Sequence[str], now: dt.datetime, lease: dt.timedelta) -> ImportJobRow | None:
    """The oldest runnable job no live worker holds, leased to the caller until now + lease."""
    query = (
        sa.select(ImportJobRow)
        .where(ImportJobRow.state.in_(states))
        .where(sa.or_(ImportJobRow.lease_until.is_(None), ImportJobRow.lease_until < now))
        .order_by(ImportJobRow.create_time, ImportJobRow.id)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    job = session.scalars(query).first()
    if job is not None:
        job.lease_until = now + lease
    return job


def put_chunk(session: Session, job_id: str, sequence: int, digest: str, data: bytes) -> None:
    session.add(ImportChunkRow(job_id=job_id, sequence=sequence, digest=digest, data=data))


def chunk_digest(session: Session, job_id: str, sequence: int) -> str | None:
    query = sa.select(ImportChunkRow.digest).where(ImportChunkRow.job_id == job_id, ImportChunkRow.sequence == sequence)
    return session.scalars(query).first()


def chunk_sequences(session: Session, job_id: str) -> list[int]:
    query = sa.select(ImportChunkRow.sequence).where(ImportChunkRow.job_id == job_id)
    return list(session.scalars(query.order_by(ImportChunkRow.sequence)))


def chunk(session: Session, job_id: str, sequence: int) -> bytes:
    query = sa.select(ImportChunkRow.data).where(ImportChunkRow.job_id == job_id, ImportChunkRow.sequence == sequence)
    return bytes(session.scalars(query).one())


def clear_work(session: Session, job_id: str) -> None:
    """Forget staged rows and errors (a validation that starts over, or a finished job)."""
    session.execute(sa.delete(ImportStagedRow).where(ImportStagedRow.job_id == job_id))
    session.execute(sa.delete(ImportErrorRow).where(ImportErrorRow.job_id == job_id))


def drop_upload(session: Session, job_id: str) -> None:
    session.execute(sa.delete(ImportChunkRow).where(ImportChunkRow.job_id == job_id))
    session.execute(sa.delete(ImportStagedRow).where(ImportStagedRow.job_id == job_id))


def stage(session: Session, job_id: str, rows: Sequence[tuple[int, str, dict[str, Any]]]) -> None:
    """Staged rows in bulk: COPY on PostgreSQL (the fast path), a multi-row INSERT elsewhere."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy("COPY import_rows (job_id, row_number, match_key, fields) FROM STDIN") as copy:
            for number, key, fields in rows:
                copy.write_row((job_id, number, key, json.dumps(fields, separators=(",", ":"))))
        return
    session.execute(
        sa.insert(ImportStagedRow),
        [{"job_id": job_id, "row_number": n, "match_key": k, "fields": json.dumps(f)} for n, k, f in rows],
    )


def staged_after(session: Session, job_id: str, after: int, limit: int) -> list[tuple[int, str, dict[str, Any]]]:
    query = (
        sa.select(ImportStagedRow.row_number, ImportStagedRow.match_key, ImportStagedRow.fields)
        .where(ImportStagedRow.job_id == job_id, ImportStagedRow.row_number > after)
        .order_by(ImportStagedRow.row_number)
        .limit(limit)
    )
    return [(n, k, json.loads(f)) for n, k, f in session.execute(query)]


def add_errors(session: Session, job_id: str, errors: Iterable[tuple[int, int, str, str]]) -> None:
    rows = [
        {"job_id": job_id, "row_number": n, "position": p, "field": f[:200], "message": m[:1000]}
        for n, p, f, m in errors
    ]
    if rows:
        session.execute(sa.insert(ImportErrorRow), rows)


def errors_page(session: Session, job_id: str, after: list[int] | None, limit: int) -> list[ImportErrorRow]:
    query = sa.select(ImportErrorRow).where(ImportErrorRow.job_id == job_id)
    if after:
        query = query.where(sa.tuple_(ImportErrorRow.row_number, ImportErrorRow.position) > sa.tuple_(*after))
    query = query.order_by(ImportErrorRow.row_number, ImportErrorRow.position).limit(limit)
    return list(session.scalars(query))


def contacts_by_key(session: Session, tenant_id: str, by: str, keys: Sequence[str]) -> dict[str, ContactRow]:
    """Existing contacts matched by email (lower-cased, the oldest when several share it) or external id,
    locked for the batch that writes them."""
    column = ContactRow.email_key if by == "EMAIL" else ContactRow.external_id
    found: dict[str, ContactRow] = {}
    if not keys:
        return found
    query = (
        sa.select(ContactRow)
        .where(ContactRow.tenant_id == tenant_id, column.in_(list(keys)))
        .order_by(ContactRow.id.desc())
        .with_for_update()
    )
    for row in session.scalars(query):
        found[row.email_key if by == "EMAIL" else row.external_id] = row  # the oldest id wins (last)
    return found


def existing_keys(session: Session, tenant_id: str, by: str, keys: Sequence[str]) -> set[str]:
    column = ContactRow.email_key if by == "EMAIL" else ContactRow.external_id
    if not keys:
        return set()
    query = sa.select(column).where(ContactRow.tenant_id == tenant_id, column.in_(list(keys)))
    return set(session.scalars(query))


def column_values(contact: Contact, search_text: str) -> dict[str, Any]:
    """The contacts row of a contact as column -> value, written by the same code as any save."""
    return {
        "id": contact.id,
        "tenant_id": contact.tenant_id,
        "create_time": contact.create_time,
        "search_text": search_text,
        **store.written_columns(contact),
    }


def to_domain(session: Session, row: ContactRow) -> Contact:
    return store._to_domain(row, store._associations_of(session, row.tenant_id, [row.id])[row.id])


def external_id_owners(session: Session, tenant_id: str, external_ids: Sequence[str]) -> dict[str, str]:
    """external id -> the id of the contact that has it."""
    if not external_ids:
        return {}
    query = sa.select(ContactRow.external_id, ContactRow.id).where(
        ContactRow.tenant_id == tenant_id, ContactRow.external_id.in_(list(external_ids))
    )
    return {external_id: contact_id for external_id, contact_id in session.execute(query)}


def insert_contacts(session: Session, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        columns = list(rows[0])
        cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        json_columns = {c.name for c in ContactRow.__table__.columns if isinstance(c.type, sa.JSON)}
        with cursor.copy(f"COPY contacts ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([json.dumps(row[c]) if c in json_columns else row[c] for c in columns])
        return
    session.execute(sa.insert(cast(sa.Table, ContactRow.__table__)), rows)


def update_contacts(session: Session, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    table = cast(sa.Table, ContactRow.__table__)
    columns = [c for c in rows[0] if c not in ("id", "tenant_id", "create_time")]
    statement = (
        sa.update(table).where(table.c.id == sa.bindparam("b_id")).values({c: sa.bindparam(f"b_{c}") for c in columns})
    )
    session.execute(statement, [{f"b_{k}": v for k, v in row.items()} for row in rows])


def iter_chunks(database_transaction: Any, job_id: str, sequences: Sequence[int]) -> Iterator[bytes]:
    """Each chunk read in its own short transaction, closed before the chunk is handed on."""
    for sequence in sequences:
        with database_transaction() as session:
            data = chunk(session, job_id, sequence)
        yield data
