"""Tables and queries of duplicate finding and merging: blocking keys, merge history and redirects,
scans and the pairs they found (docs/adr/0036, 0037)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from crmkit.db import JSONType, UTCDateTime
from services.contacts import dedup
from services.contacts.domain import Contact
from services.contacts.store import Base, ContactRow


class ContactMatchKeyRow(Base):
    """A contact filed under one blocking key (dedup.blocking_keys); kept in step with every write."""

    __tablename__ = "contact_match_keys"
    __table_args__ = (sa.Index("ix_contact_match_keys_tenant_id_contact_id", "tenant_id", "contact_id"),)

    tenant_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(400), primary_key=True)
    contact_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)


class ContactMergeRow(Base):
    """One loser merged into a winner: the history, and the tombstone its id resolves through."""

    __tablename__ = "contact_merges"
    __table_args__ = (
        sa.Index("ix_contact_merges_tenant_id_loser_id", "tenant_id", "loser_id", unique=True),
        sa.Index("ix_contact_merges_tenant_id_redirect_id", "tenant_id", "redirect_id"),
    )

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    loser_id: Mapped[str] = mapped_column(sa.String(26))
    # The contact it was merged into (history) ...
    winner_id: Mapped[str] = mapped_column(sa.String(26))
    # ... and the one its id resolves to now: the winner, or whoever the winner was merged into later.
    redirect_id: Mapped[str] = mapped_column(sa.String(26))
    actor: Mapped[str] = mapped_column(sa.String(64))
    # Which contact each field's value came from (field -> contact id); no personal data.
    sources: Mapped[dict[str, str]] = mapped_column(JSONType)
    merge_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class DuplicateScanRow(Base):
    __tablename__ = "duplicate_scans"
    __table_args__ = (
        sa.Index("ix_duplicate_scans_tenant_id_id", "tenant_id", "id"),
        sa.Index("ix_duplicate_scans_state", "state"),
    )

    id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.String(26))
    threshold: Mapped[float] = mapped_column(sa.Float())
    state: Mapped[str] = mapped_column(sa.String(16))
    phase: Mapped[str] = mapped_column(sa.String(16))
    # Where the next batch starts: the last contact id filed, or the last blocking key compared.
    position: Mapped[str] = mapped_column(sa.String(400))
    processed: Mapped[int] = mapped_column(sa.BigInteger())
    total_contacts: Mapped[int] = mapped_column(sa.BigInteger())
    pairs_found: Mapped[int] = mapped_column(sa.BigInteger())
    error: Mapped[str] = mapped_column(sa.Text())
    create_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    update_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class DuplicatePairRow(Base):
    __tablename__ = "duplicate_pairs"
    __table_args__ = (sa.Index("ix_duplicate_pairs_scan_id_score", "scan_id", "score", "contact_a", "contact_b"),)

    scan_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    contact_a: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    contact_b: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    score: Mapped[float] = mapped_column(sa.Float())
    matches: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)


# --- blocking keys -------------------------------------------------------------------------------


def profile_of(contact: Contact) -> dedup.Profile:
    data = contact.data
    return dedup.Profile(contact.id, data.given_name, data.family_name, data.email, data.phone, data.account_ids)


def profile_of_row(row: ContactRow) -> dedup.Profile:
    return dedup.Profile(row.id, row.given_name, row.family_name, row.email, row.phone, tuple(row.account_ids))


# From this many keys on, file_keys writes them with COPY on PostgreSQL.
COPY_FROM = 500


def file_keys(session: Session, contacts: Sequence[Contact], *, new: bool = False) -> None:
    """File contacts under their current blocking keys (replacing whatever they were filed under,
    unless they are `new`)."""
    if not contacts:
        return
    by_tenant: dict[str, list[str]] = {}
    for contact in contacts:
        by_tenant.setdefault(contact.tenant_id, []).append(contact.id)
    for tenant_id, ids in by_tenant.items():
        if not new:
            unfile_keys(session, tenant_id, ids)
    rows = [
        {"tenant_id": c.tenant_id, "key": key[:400], "contact_id": c.id}
        for c in contacts
        for key in dedup.blocking_keys(profile_of(c))
    ]
    if len(rows) >= COPY_FROM and session.get_bind().dialect.name == "postgresql":
        # An import files ~8 keys for each of thousands of contacts: COPY, not a statement per row.
        session.flush()
        cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy("COPY contact_match_keys (tenant_id, key, contact_id) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((row["tenant_id"], row["key"], row["contact_id"]))
    elif rows:
        session.execute(sa.insert(ContactMatchKeyRow), rows)


def unfile_keys(session: Session, tenant_id: str, contact_ids: Iterable[str]) -> None:
    session.execute(
        sa.delete(ContactMatchKeyRow).where(
            ContactMatchKeyRow.tenant_id == tenant_id, ContactMatchKeyRow.contact_id.in_(list(contact_ids))
        )
    )


def sharing_keys(session: Session, tenant_id: str, keys: Iterable[str], limit: int) -> list[str]:
    """Ids of contacts filed under any of the keys (keys shared by too many contacts are skipped)."""
    selective = (
        sa.select(ContactMatchKeyRow.key)
        .where(ContactMatchKeyRow.tenant_id == tenant_id, ContactMatchKeyRow.key.in_([k[:400] for k in keys]))
        .group_by(ContactMatchKeyRow.key)
        .having(sa.func.count() <= dedup.MAX_BLOCK)
    )
    query = (
        sa.select(ContactMatchKeyRow.contact_id)
        .where(ContactMatchKeyRow.tenant_id == tenant_id, ContactMatchKeyRow.key.in_(selective))
        .distinct()
        .limit(limit)
    )
    return list(session.scalars(query))


def contacts_by_id(session: Session, tenant_id: str, ids: Sequence[str]) -> list[ContactRow]:
    if not ids:
        return []
    return list(session.scalars(sa.select(ContactRow).where(ContactRow.tenant_id == tenant_id, ContactRow.id.in_(ids))))


# --- merges --------------------------------------------------------------------------------------


def redirect_of(session: Session, tenant_id: str, contact_id: str) -> str | None:
    """The contact a merged contact's id resolves to, or None when it was never merged."""
    query = sa.select(ContactMergeRow.redirect_id).where(
        ContactMergeRow.tenant_id == tenant_id, ContactMergeRow.loser_id == contact_id
    )
    return session.scalars(query).first()


def record_merge(
    session: Session, merge_id: str, tenant_id: str, loser_id: str, winner_id: str, actor: str,
    sources: dict[str, str], now: dt.datetime,
) -> None:  # fmt: skip
    session.add(
        ContactMergeRow(
            id=merge_id, tenant_id=tenant_id, loser_id=loser_id, winner_id=winner_id, redirect_id=winner_id,
            actor=actor[:64], sources=sources, merge_time=now,
        )
    )  # fmt: skip


def repoint_redirects(session: Session, tenant_id: str, loser_id: str, winner_id: str) -> None:
    """Ids that resolved to the loser resolve to the winner now (redirects never chain)."""
    session.execute(
        sa.update(ContactMergeRow)
        .where(ContactMergeRow.tenant_id == tenant_id, ContactMergeRow.redirect_id == loser_id)
        .values(redirect_id=winner_id)
    )


def drop_pairs_of(session: Session, tenant_id: str, loser_id: str, winner_id: str) -> None:
    """Scan results naming the loser are settled by the merge."""
    scans = sa.select(DuplicateScanRow.id).where(DuplicateScanRow.tenant_id == tenant_id)
    session.execute(
        sa.delete(DuplicatePairRow).where(
            DuplicatePairRow.scan_id.in_(scans),
            sa.or_(DuplicatePairRow.contact_a == loser_id, DuplicatePairRow.contact_b == loser_id),
        )
    )


def merges_into(session: Session, tenant_id: str, winner_id: str) -> list[ContactMergeRow]:
    query = sa.select(ContactMergeRow).where(
        ContactMergeRow.tenant_id == tenant_id, ContactMergeRow.winner_id == winner_id
    )
    return list(session.scalars(query.order_by(ContactMergeRow.merge_time, ContactMergeRow.loser_id)))


# --- scans ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    key: str
    contact_ids: list[str]


def count_contacts(session: Session, tenant_id: str) -> int:
    return session.execute(sa.select(sa.func.count()).where(ContactRow.tenant_id == tenant_id)).scalar_one()


def scan(session: Session, tenant_id: str, scan_id: str) -> DuplicateScanRow | None:
    query = sa.select(DuplicateScanRow).where(DuplicateScanRow.tenant_id == tenant_id, DuplicateScanRow.id == scan_id)
    return session.scalars(query).first()


def lock_running_scan(session: Session) -> DuplicateScanRow | None:
    """A running scan no other worker holds (SKIP LOCKED), oldest first."""
    query = (
        sa.select(DuplicateScanRow).where(DuplicateScanRow.state == "RUNNING").order_by(DuplicateScanRow.update_time)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return session.scalars(query.limit(1)).first()


def contacts_after(session: Session, tenant_id: str, after: str, limit: int) -> list[ContactRow]:
    query = sa.select(ContactRow).where(ContactRow.tenant_id == tenant_id, ContactRow.id > after)
    return list(session.scalars(query.order_by(ContactRow.id).limit(limit)))


def blocks_after(session: Session, tenant_id: str, after: str, limit: int) -> list[Block]:
    """The next selective blocks (2..MAX_BLOCK contacts) in key order after the key `after`."""
    size = sa.func.count()
    keys = session.scalars(
        sa.select(ContactMatchKeyRow.key)
        .where(ContactMatchKeyRow.tenant_id == tenant_id, ContactMatchKeyRow.key > after)
        .group_by(ContactMatchKeyRow.key)
        .having(sa.and_(size >= 2, size <= dedup.MAX_BLOCK))
        .order_by(ContactMatchKeyRow.key)
        .limit(limit)
    ).all()
    members: dict[str, list[str]] = {key: [] for key in keys}
    if keys:
        rows = session.execute(
            sa.select(ContactMatchKeyRow.key, ContactMatchKeyRow.contact_id).where(
                ContactMatchKeyRow.tenant_id == tenant_id, ContactMatchKeyRow.key.in_(keys)
            )
        )
        for key, contact_id in rows:
            members[key].append(contact_id)
    return [Block(key, members[key]) for key in keys]


def add_pairs(session: Session, scan_id: str, found: Sequence[dedup.Scored]) -> int:
    """Store the pairs not stored yet (a resumed batch may find some again); how many were new."""
    if not found:
        return 0
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    rows = [
        {"scan_id": scan_id, "contact_a": s.a, "contact_b": s.b, "score": s.score, "matches": matches_json(s.matches)}
        for s in found
    ]
    statement = insert(DuplicatePairRow).values(rows).on_conflict_do_nothing().returning(DuplicatePairRow.scan_id)
    return len(session.execute(statement).all())


def pairs_page(session: Session, scan_id: str, after: list[Any] | None, limit: int) -> list[DuplicatePairRow]:
    """Best score first, then by ids; `after` is the last row's [score, contact_a, contact_b]."""
    query = sa.select(DuplicatePairRow).where(DuplicatePairRow.scan_id == scan_id)
    if after:
        score, a, b = after
        ids = sa.tuple_(DuplicatePairRow.contact_a, DuplicatePairRow.contact_b)
        same_score_later = sa.and_(DuplicatePairRow.score == score, ids > sa.tuple_(a, b))
        query = query.where(sa.or_(DuplicatePairRow.score < score, same_score_later))
    order = (DuplicatePairRow.score.desc(), DuplicatePairRow.contact_a, DuplicatePairRow.contact_b)
    return list(session.scalars(query.order_by(*order).limit(limit)))


def matches_json(matches: Iterable[dedup.FieldMatch]) -> list[dict[str, Any]]:
    return [{"field": m.field, "how": m.how, "similarity": m.similarity} for m in matches]
