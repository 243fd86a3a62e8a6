"""Marketing tables and queries."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from crmkit.db import JSONType, UTCDateTime, make_metadata
from crmkit.events.tables import add_messaging_tables
from services.marketing.domain import AudienceMember


class Base(DeclarativeBase):
    metadata = make_metadata()


OUTBOX, INBOX = add_messaging_tables(Base.metadata)


class AudienceMemberRow(Base):
    __tablename__ = "audience_members"

    tenant_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    contact_id: Mapped[str] = mapped_column(sa.String(26), primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320))
    given_name: Mapped[str] = mapped_column(sa.String(200))
    family_name: Mapped[str] = mapped_column(sa.String(200))
    lifecycle_stage: Mapped[str] = mapped_column(sa.String(40))
    tags: Mapped[list[str]] = mapped_column(JSONType)
    source_update_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    deleted: Mapped[bool] = mapped_column(sa.Boolean())


def _to_domain(row: AudienceMemberRow) -> AudienceMember:
    return AudienceMember(
        row.tenant_id,
        row.contact_id,
        row.email,
        row.given_name,
        row.family_name,
        row.lifecycle_stage,
        tuple(row.tags),
        row.source_update_time,
        row.deleted,
    )


def get(session: Session, tenant_id: str, contact_id: str, *, for_update: bool = False) -> AudienceMember | None:
    row = _row(session, tenant_id, contact_id, for_update)
    return None if row is None else _to_domain(row)


def put(session: Session, member: AudienceMember) -> None:
    row = _row(session, member.tenant_id, member.contact_id, for_update=False)
    if row is None:
        row = AudienceMemberRow(tenant_id=member.tenant_id, contact_id=member.contact_id)
        session.add(row)
    row.email, row.given_name, row.family_name = member.email, member.given_name, member.family_name
    row.lifecycle_stage, row.tags = member.lifecycle_stage, list(member.tags)
    row.source_update_time, row.deleted = member.source_update_time, member.deleted


def page(session: Session, tenant_id: str, after: str | None, limit: int) -> list[AudienceMember]:
    query = sa.select(AudienceMemberRow).where(
        AudienceMemberRow.tenant_id == tenant_id, AudienceMemberRow.deleted.is_(False)
    )
    if after:
        query = query.where(AudienceMemberRow.contact_id > after)
    rows = session.scalars(query.order_by(AudienceMemberRow.contact_id).limit(limit)).all()
    return [_to_domain(r) for r in rows]


def _row(session: Session, tenant_id: str, contact_id: str, for_update: bool) -> AudienceMemberRow | None:
    query = sa.select(AudienceMemberRow).where(
        AudienceMemberRow.tenant_id == tenant_id, AudienceMemberRow.contact_id == contact_id
    )
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).first()
