"""Connections: a tenant's credentials and settings for an outside system (SMTP and IMAP servers
now; ERP and accounting systems later), and the sync state every connector shares (docs/adr/0046).

- The password is sealed by crmkit.secretbox before it reaches the database and is opened only by
  the code that talks to the server; the API never returns it (`has_password` says whether one is
  stored), and it is in no log line or event.
- Sync state: per-stream cursors written in the transaction of the data they cover
  (`put_cursor` takes the caller's session), runs with counts, an external-id map for idempotent
  upserts, and dead letters that keep a failed record until replayed.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crmkit.db import Database, utcnow
from crmkit.errors import FailedPrecondition, NotFound, Validator
from crmkit.ids import new_id
from crmkit.pagination import decode_cursor, page_of, page_size
from crmkit.tokens import Principal
from services.integrations.secrets import LazySecretBox
from services.integrations.store import (
    ConnectionRow,
    DeadLetterRow,
    ExternalIdRow,
    SyncCursorRow,
    SyncRunRow,
)

log = logging.getLogger(__name__)

TYPES = ("SMTP", "IMAP")
SECURITIES = ("TLS", "STARTTLS", "NONE")
PURPOSES = ("", "support")
MAX_NAME = 200
MAX_HOST = 253
MAX_SECRET = 4096
MAX_CERT = 64 * 1024
MAX_ADDRESSES = 20


@dataclass(frozen=True)
class ConnectionFields:
    type: str = ""
    display_name: str = ""
    host: str = ""
    port: int = 0
    security: str = ""
    username: str = ""
    from_address: str = ""
    mailbox: str = ""
    purpose: str = ""
    support_addresses: tuple[str, ...] = ()
    ca_certificate: str = ""


@dataclass(frozen=True)
class Connection:
    id: str
    tenant_id: str
    data: ConnectionFields
    has_password: bool
    key_id: str
    create_time: dt.datetime
    update_time: dt.datetime


@dataclass(frozen=True)
class Credentials:
    """What a protocol client needs: the settings and the opened password. Never logged (repr hides it)."""

    connection: Connection
    password: str = field(repr=False)


def _address(check: Validator, name: str, value: str) -> str:
    value = value.strip()
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        check.add(name, f"must be an email address: {exc}")
        return value


def normalise(data: ConnectionFields, password: str) -> ConnectionFields:
    check = Validator()
    kind = data.type
    if kind not in TYPES:
        check.add("type", f"must be one of {', '.join(TYPES)}")
    name = check.text("display_name", data.display_name, MAX_NAME)
    if not name:
        check.add("display_name", "is required")
    host = check.text("host", data.host, MAX_HOST)
    if not host or any(c in host for c in " /@"):
        check.add("host", "is required: a host name or IP address")
    if not 1 <= data.port <= 65535:
        check.add("port", "must be between 1 and 65535")
    security = data.security or "STARTTLS"
    if security not in SECURITIES:
        check.add("security", f"must be one of {', '.join(SECURITIES)}")
    username = check.text("username", data.username, 320)
    if len(password) > MAX_SECRET:
        check.add("password", f"must be at most {MAX_SECRET} characters")
    if password and not username:
        check.add("username", "is required with a password")
    from_address = _address(check, "from_address", data.from_address) if data.from_address.strip() else ""
    if kind == "SMTP" and not from_address:
        check.add("from_address", "is required for an SMTP connection")
    mailbox = check.text("mailbox", data.mailbox, 200)
    if kind == "IMAP":
        mailbox = mailbox or "INBOX"
        if not username or not password:
            check.add("username", "an IMAP connection logs in: username and password are required")
    if data.purpose not in PURPOSES:
        check.add("purpose", "must be empty or support")
    if len(data.support_addresses) > MAX_ADDRESSES:
        check.add("support_addresses", f"at most {MAX_ADDRESSES} entries")
    addresses = tuple(
        dict.fromkeys(_address(check, f"support_addresses[{i}]", a) for i, a in enumerate(data.support_addresses))
    )
    cert = data.ca_certificate.strip()
    if cert and (len(cert) > MAX_CERT or "-----BEGIN CERTIFICATE-----" not in cert):
        check.add("ca_certificate", "must be a PEM certificate")
    check.raise_if_any()
    return ConnectionFields(
        kind, name, host, data.port, security, username, from_address, mailbox, data.purpose, addresses, cert
    )


def _config(data: ConnectionFields) -> dict[str, Any]:
    return {
        "host": data.host,
        "port": data.port,
        "security": data.security,
        "username": data.username,
        "from_address": data.from_address,
        "mailbox": data.mailbox,
        "purpose": data.purpose,
        "support_addresses": list(data.support_addresses),
        "ca_certificate": data.ca_certificate,
    }


def _connection(row: ConnectionRow) -> Connection:
    c = row.config
    data = ConnectionFields(
        row.type,
        row.display_name,
        c.get("host", ""),
        int(c.get("port", 0)),
        c.get("security", ""),
        c.get("username", ""),
        c.get("from_address", ""),
        c.get("mailbox", ""),
        c.get("purpose", ""),
        tuple(c.get("support_addresses", ())),
        c.get("ca_certificate", ""),
    )
    return Connection(
        row.id, row.tenant_id, data, bool(row.sealed_secret), row.key_id, row.create_time, row.update_time
    )


# --- connections ---


class Connections:
    def __init__(self, database: Database, secrets: LazySecretBox, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.database = database
        self.secrets = secrets
        self.clock = clock

    def create(self, principal: Principal, data: ConnectionFields, password: str) -> Connection:
        data = normalise(data, password)
        now = self.clock()
        box = self.secrets.box
        row = ConnectionRow(
            id=new_id(),
            tenant_id=principal.tenant_id,
            type=data.type,
            display_name=data.display_name,
            config=_config(data),
            sealed_secret=box.seal(password) if password else "",
            key_id=box.current_key_id if password else "",
            create_time=now,
            update_time=now,
        )
        with self.database.transaction() as session:
            session.add(row)
            session.flush()
        log.info("connection %s (%s) created for tenant %s", row.id, data.type, principal.tenant_id)
        return _connection(row)

    def get(self, principal: Principal, connection_id: str) -> Connection:
        with self.database.transaction() as session:
            return _connection(self._row(session, principal.tenant_id, connection_id))

    def listed(self, principal: Principal, requested_size: int, page_token: str) -> tuple[list[Connection], str]:
        size = page_size(requested_size)
        after = decode_cursor(page_token, "connections")
        query = sa.select(ConnectionRow).where(ConnectionRow.tenant_id == principal.tenant_id)
        if after:
            query = query.where(ConnectionRow.id > after)
        with self.database.transaction() as session:
            rows = [_connection(r) for r in session.scalars(query.order_by(ConnectionRow.id).limit(size + 1))]
        return page_of(rows, size, lambda c: c.id, "connections")

    def delete(self, principal: Principal, connection_id: str) -> None:
        with self.database.transaction() as session:
            row = self._row(session, principal.tenant_id, connection_id)
            for table in (SyncCursorRow, ExternalIdRow):
                session.execute(sa.delete(table).where(table.connection_id == row.id))
            session.delete(row)

    def credentials(self, tenant_id: str, connection_id: str) -> Credentials:
        with self.database.transaction() as session:
            row = self._row(session, tenant_id, connection_id)
        return self._open(row)

    def _open(self, row: ConnectionRow) -> Credentials:
        password = self.secrets.box.open(row.sealed_secret) if row.sealed_secret else ""
        return Credentials(_connection(row), password)

    def of_type(self, kind: str, tenant_id: str | None = None) -> list[Credentials]:
        query = sa.select(ConnectionRow).where(ConnectionRow.type == kind)
        if tenant_id is not None:
            query = query.where(ConnectionRow.tenant_id == tenant_id)
        with self.database.transaction() as session:
            rows = list(session.scalars(query.order_by(ConnectionRow.id)))
        return [self._open(r) for r in rows]

    def rotate_secrets(self) -> int:
        """Re-seal every stored password under the newest key; answers how many changed. Run it
        after putting a new key first in CRM_SECRET_KEYS, before dropping the old one."""
        box = self.secrets.box
        changed = 0
        with self.database.transaction() as session:
            rows = session.scalars(
                sa.select(ConnectionRow).where(ConnectionRow.sealed_secret != "").with_for_update()
            ).all()
            for row in rows:
                if row.key_id == box.current_key_id:
                    continue
                row.sealed_secret = box.rotate(row.sealed_secret)
                row.key_id = box.current_key_id
                changed += 1
        log.info("re-sealed %d connection secrets under key %s", changed, box.current_key_id)
        return changed

    @staticmethod
    def _row(session: Session, tenant_id: str, connection_id: str) -> ConnectionRow:
        row = session.scalars(
            sa.select(ConnectionRow).where(ConnectionRow.tenant_id == tenant_id, ConnectionRow.id == connection_id)
        ).first()
        if row is None:
            raise NotFound.resource("connection", connection_id)
        return row


# --- sync state ---


@dataclass(frozen=True)
class SyncRun:
    id: str
    connection_id: str
    status: str
    trigger: str
    fetched_count: int = 0
    created_count: int = 0
    skipped_count: int = 0
    failed_count: int = 0
    error: str = ""
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None


@dataclass(frozen=True)
class DeadLetter:
    id: str
    tenant_id: str
    connection_id: str
    stream: str
    external_id: str
    payload: bytes
    error: str
    attempts: int
    create_time: dt.datetime
    update_time: dt.datetime
    resolve_time: dt.datetime | None


def get_cursor(session: Session, connection_id: str, stream: str) -> dict[str, Any]:
    row = session.get(SyncCursorRow, (connection_id, stream))
    return dict(row.value) if row is not None else {}


def put_cursor(session: Session, tenant_id: str, connection_id: str, stream: str, value: dict[str, Any]) -> None:
    """Move a stream's cursor inside the caller's transaction (the one writing the data it covers)."""
    row = session.get(SyncCursorRow, (connection_id, stream))
    if row is None:
        session.add(
            SyncCursorRow(
                connection_id=connection_id, stream=stream, tenant_id=tenant_id, value=value, update_time=utcnow()
            )
        )
    else:
        row.value = value
        row.update_time = utcnow()
    session.flush()


def claim_external_id(
    session: Session, tenant_id: str, connection_id: str, object_type: str, external_id: str, internal_id: str
) -> str | None:
    """Map an external id to `internal_id` unless it is mapped already; answers the existing internal
    id (then nothing was written) or None (the mapping is new). Safe against concurrent claims."""
    values = {
        "connection_id": connection_id,
        "object_type": object_type,
        "external_id": external_id,
        "tenant_id": tenant_id,
        "internal_id": internal_id,
        "create_time": utcnow(),
    }
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    created = session.execute(
        insert(ExternalIdRow).values(**values).on_conflict_do_nothing().returning(ExternalIdRow.internal_id)
    ).first()
    if created is not None:
        return None
    return session.scalars(
        sa.select(ExternalIdRow.internal_id).where(
            ExternalIdRow.connection_id == connection_id,
            ExternalIdRow.object_type == object_type,
            ExternalIdRow.external_id == external_id,
        )
    ).one()


def add_dead_letter(
    session: Session, tenant_id: str, connection_id: str, stream: str, external_id: str, payload: bytes, error: str
) -> str:
    now = utcnow()
    letter_id = new_id()
    session.add(
        DeadLetterRow(
            id=letter_id,
            tenant_id=tenant_id,
            connection_id=connection_id,
            stream=stream,
            external_id=external_id[:998],
            payload=payload,
            error=error[:2000],
            attempts=1,
            create_time=now,
            update_time=now,
            resolve_time=None,
        )
    )
    session.flush()
    return letter_id


def _run(row: SyncRunRow) -> SyncRun:
    return SyncRun(
        row.id,
        row.connection_id,
        row.status,
        row.trigger,
        row.fetched_count,
        row.created_count,
        row.skipped_count,
        row.failed_count,
        row.error,
        row.start_time,
        row.end_time,
    )


def _letter(row: DeadLetterRow) -> DeadLetter:
    return DeadLetter(
        row.id,
        row.tenant_id,
        row.connection_id,
        row.stream,
        row.external_id,
        row.payload,
        row.error,
        row.attempts,
        row.create_time,
        row.update_time,
        row.resolve_time,
    )


# A stream's replay: process one dead letter's payload in the session; raise to keep it dead.
Replayer = Callable[[Session, Credentials, DeadLetter], None]
# A connector's sync: fetch and store, answers the finished run's counts (fields of SyncRun).
Syncer = Callable[[Credentials, SyncRun], SyncRun]


class SyncState:
    """Runs, dead letters and replays over the connectors registered per connection type."""

    def __init__(self, database: Database, connections: Connections) -> None:
        self.database = database
        self.connections = connections
        self.syncers: dict[str, Syncer] = {}
        self.replayers: dict[str, Replayer] = {}

    def sync(self, principal: Principal, connection_id: str, trigger: str = "manual") -> SyncRun:
        credentials = self.connections.credentials(principal.tenant_id, connection_id)
        return self.run(credentials, trigger)

    def run(self, credentials: Credentials, trigger: str) -> SyncRun:
        connection = credentials.connection
        syncer = self.syncers.get(connection.data.type)
        if syncer is None:
            raise FailedPrecondition(f"a {connection.data.type} connection has nothing to sync")
        run = SyncRun(new_id(), connection.id, "RUNNING", trigger, start_time=utcnow())
        with self.database.transaction() as session:
            session.add(
                SyncRunRow(
                    id=run.id,
                    tenant_id=connection.tenant_id,
                    connection_id=connection.id,
                    status=run.status,
                    trigger=trigger,
                    fetched_count=0,
                    created_count=0,
                    skipped_count=0,
                    failed_count=0,
                    error="",
                    start_time=run.start_time,
                    end_time=None,
                )
            )
        try:
            finished = replace(syncer(credentials, run), status="SUCCEEDED")
        except Exception as exc:  # the run records why; the next run starts from the committed cursor
            log.warning("sync of connection %s failed: %s", connection.id, type(exc).__name__)
            finished = replace(run, status="FAILED", error=f"{type(exc).__name__}: {exc}"[:2000])
        finished = replace(finished, end_time=utcnow())
        with self.database.transaction() as session:
            row = session.get(SyncRunRow, run.id)
            assert row is not None
            for name in (
                "status",
                "fetched_count",
                "created_count",
                "skipped_count",
                "failed_count",
                "error",
                "end_time",
            ):
                setattr(row, name, getattr(finished, name))
        return finished

    def runs(
        self, principal: Principal, connection_id: str, requested_size: int, page_token: str
    ) -> tuple[list[SyncRun], str]:
        return self._page(principal, connection_id, requested_size, page_token, SyncRunRow, _run, "syncRuns")

    def dead_letters(
        self, principal: Principal, connection_id: str, requested_size: int, page_token: str
    ) -> tuple[list[DeadLetter], str]:
        return self._page(principal, connection_id, requested_size, page_token, DeadLetterRow, _letter, "deadLetters")

    def _page(self, principal, connection_id, requested_size, page_token, table, convert, name):  # type: ignore[no-untyped-def]
        size = page_size(requested_size)
        scope = f"{name}:{connection_id}"
        after = decode_cursor(page_token, scope)
        with self.database.transaction() as session:
            self.connections._row(session, principal.tenant_id, connection_id)
            query = sa.select(table).where(table.tenant_id == principal.tenant_id, table.connection_id == connection_id)
            if after:
                query = query.where(table.id < after)
            found = [convert(r) for r in session.scalars(query.order_by(table.id.desc()).limit(size + 1))]
        return page_of(found, size, lambda item: item.id, scope)

    def replay(self, principal: Principal, connection_id: str, letter_id: str) -> DeadLetter:
        credentials = self.connections.credentials(principal.tenant_id, connection_id)
        with self.database.transaction() as session:
            row = session.scalars(
                sa.select(DeadLetterRow)
                .where(
                    DeadLetterRow.tenant_id == principal.tenant_id,
                    DeadLetterRow.connection_id == connection_id,
                    DeadLetterRow.id == letter_id,
                )
                .with_for_update()
            ).first()
            if row is None:
                raise NotFound.resource("dead letter", letter_id)
            if row.resolve_time is not None:
                return _letter(row)
            replayer = self.replayers.get(row.stream.split(":", 1)[0])
            if replayer is None:
                raise FailedPrecondition(f"stream {row.stream} cannot be replayed")
            try:
                with session.begin_nested():
                    replayer(session, credentials, _letter(row))
            except Exception as exc:
                row.error = f"{type(exc).__name__}: {exc}"[:2000]
            else:
                row.resolve_time = utcnow()
                row.error = ""
            row.attempts += 1
            row.update_time = utcnow()
            return _letter(row)
