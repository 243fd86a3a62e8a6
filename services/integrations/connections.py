"""Connections: a tenant's credentials and settings for an outside system (SMTP and IMAP servers;
ERP and accounting systems over their HTTP APIs), and the sync state every connector shares
(docs/adr/0046, 0057).

- Secrets (password, API key, OAuth 2.0 client secret and tokens) are sealed together by
  crmkit.secretbox before they reach the database and are opened only by the code that talks to the
  server; the API never returns them (`has_password`, `has_api_key`… say whether one is stored), and
  they are in no log line or event. A refreshed OAuth 2.0 token is sealed again (`store_tokens`).
- Sync state: per-stream cursors written in the transaction of the data they cover
  (`put_cursor` takes the caller's session), runs with counts, an external-id map for idempotent
  upserts, and dead letters that keep a failed record until replayed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crmkit.db import Database, tenant_page, tenant_row, utcnow
from crmkit.errors import FailedPrecondition, NotFound, Validator
from crmkit.ids import new_id
from crmkit.pagination import decode_cursor, page_of, page_size
from crmkit.tokens import Principal
from services.integrations.secrets import LazySecretBox

if TYPE_CHECKING:
    from services.integrations.connectors import Connectors
from services.integrations.store import (
    ConnectionRow,
    DeadLetterRow,
    ExternalIdRow,
    SyncCursorRow,
    SyncRunRow,
)

log = logging.getLogger(__name__)

EMAIL_TYPES = ("SMTP", "IMAP")
HTTP_TYPES = ("ODOO", "QUICKBOOKS", "XERO")
OAUTH2_TYPES = ("QUICKBOOKS", "XERO")
TYPES = EMAIL_TYPES + HTTP_TYPES
SECURITIES = ("TLS", "STARTTLS", "NONE")
PURPOSES = ("", "support")
DIRECTIONS = ("BOTH", "INBOUND", "OUTBOUND")
MAX_NAME = 200
MAX_HOST = 253
MAX_SECRET = 4096
MAX_CERT = 64 * 1024
MAX_ADDRESSES = 20
MAX_URL = 2000
MAX_MAPPINGS = 100
MAX_REQUESTS_PER_MINUTE = 100_000
# Where each vendor's API lives and how to refresh its tokens when the connection does not say.
DEFAULT_BASE_URLS = {"QUICKBOOKS": "https://quickbooks.api.intuit.com", "XERO": "https://api.xero.com"}
DEFAULT_TOKEN_URLS = {
    "QUICKBOOKS": "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
    "XERO": "https://identity.xero.com/connect/token",
}
# The vendors' published request limits, a minute: QuickBooks 500 per realm, Xero 60 per
# organisation; Odoo publishes none, so a polite 60.
DEFAULT_REQUESTS_PER_MINUTE = {"ODOO": 60, "QUICKBOOKS": 500, "XERO": 60}
SECRET_NAMES = ("password", "api_key", "client_secret", "refresh_token", "access_token", "webhook_key")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_CRM_FIELD = re.compile(r"^([a-z][A-Za-z0-9]{0,62}|customFields\.[A-Za-z_][A-Za-z0-9_]{0,62})$")


@dataclass(frozen=True)
class FieldMapping:
    stream: str
    external_field: str
    crm_field: str
    direction: str = "BOTH"

    @property
    def inbound(self) -> bool:
        return self.direction in ("BOTH", "INBOUND")

    @property
    def outbound(self) -> bool:
        return self.direction in ("BOTH", "OUTBOUND")


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
    # HTTP-API connections (docs/adr/0057)
    base_url: str = ""
    database: str = ""
    realm_id: str = ""
    xero_tenant_id: str = ""
    client_id: str = ""
    token_url: str = ""
    requests_per_minute: int = 0
    field_mappings: tuple[FieldMapping, ...] = ()
    # When the stored OAuth 2.0 access token expires (None: none stored, or unknown).
    access_token_expire_time: dt.datetime | None = None

    @property
    def budget_per_minute(self) -> int:
        return self.requests_per_minute or DEFAULT_REQUESTS_PER_MINUTE.get(self.type, 60)

    def mappings(self, stream: str) -> tuple[FieldMapping, ...]:
        return tuple(m for m in self.field_mappings if m.stream == stream)


@dataclass(frozen=True)
class Secrets:
    """What a connection keeps sealed. Never logged (repr hides every value)."""

    password: str = field(default="", repr=False)
    api_key: str = field(default="", repr=False)
    client_secret: str = field(default="", repr=False)
    refresh_token: str = field(default="", repr=False)
    access_token: str = field(default="", repr=False)
    # QuickBooks and Xero: what their webhooks are signed with (docs/adr/0059).
    webhook_key: str = field(default="", repr=False)

    def stored(self) -> tuple[str, ...]:
        return tuple(name for name in SECRET_NAMES if getattr(self, name))

    def as_dict(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in self.stored()}


@dataclass(frozen=True)
class Connection:
    id: str
    tenant_id: str
    data: ConnectionFields
    has_password: bool
    key_id: str
    create_time: dt.datetime
    update_time: dt.datetime
    # The names of the secrets stored (never their values).
    stored_secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Credentials:
    """What a protocol client needs: the settings and the opened secrets. Never logged (repr hides them)."""

    connection: Connection
    password: str = field(default="", repr=False)
    secrets: Secrets = field(default_factory=Secrets, repr=False)


def _address(check: Validator, name: str, value: str) -> str:
    value = value.strip()
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        check.add(name, f"must be an email address: {exc}")
        return value


def _url(check: Validator, name: str, value: str) -> str:
    value = value.strip().rstrip("/")
    parts = urllib.parse.urlsplit(value)
    if len(value) > MAX_URL or parts.scheme not in ("http", "https") or not parts.hostname:
        check.add(name, "must be an http(s) URL with a host")
    elif parts.username or parts.password or parts.query or parts.fragment:
        check.add(name, "must not carry credentials, a query or a fragment")
    return value


def _mappings(check: Validator, mappings: tuple[FieldMapping, ...]) -> tuple[FieldMapping, ...]:
    if len(mappings) > MAX_MAPPINGS:
        check.add("field_mappings", f"at most {MAX_MAPPINGS} entries")
    seen: set[tuple[str, str, bool]] = set()
    found = []
    for i, m in enumerate(mappings):
        name = f"field_mappings[{i}]"
        direction = m.direction or "BOTH"
        if direction not in DIRECTIONS:
            check.add(f"{name}.direction", f"must be one of {', '.join(DIRECTIONS)}")
        stream = m.stream.strip()
        if not stream or len(stream) > 200:
            check.add(f"{name}.stream", "is required: the connector's stream, e.g. res.partner")
        if not _FIELD.match(m.external_field):
            check.add(f"{name}.external_field", "must be a field name (letters, digits, underscores)")
        if not _CRM_FIELD.match(m.crm_field):
            check.add(f"{name}.crm_field", "must be a CRM field (e.g. title) or customFields.<key>")
        for inbound in (True, False):
            if (inbound and direction == "OUTBOUND") or (not inbound and direction == "INBOUND"):
                continue
            # One source per target: two mappings writing the same field would race.
            target = (stream, m.crm_field if inbound else m.external_field, inbound)
            if target in seen:
                check.add(name, "maps onto a field another mapping of the stream already writes")
            seen.add(target)
        found.append(FieldMapping(stream, m.external_field, m.crm_field, direction))
    return tuple(found)


def _normalise_email(check: Validator, data: ConnectionFields, secrets: Secrets) -> ConnectionFields:
    kind = data.type
    host = check.text("host", data.host, MAX_HOST)
    if not host or any(c in host for c in " /@"):
        check.add("host", "is required: a host name or IP address")
    if not 1 <= data.port <= 65535:
        check.add("port", "must be between 1 and 65535")
    security = data.security or "STARTTLS"
    if security not in SECURITIES:
        check.add("security", f"must be one of {', '.join(SECURITIES)}")
    username = check.text("username", data.username, 320)
    password = secrets.password
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
    for name in ("api_key", "client_secret", "refresh_token", "access_token", "webhook_key"):
        if getattr(secrets, name):
            check.add(name, f"is not used by a {kind} connection")
    return ConnectionFields(
        kind,
        data.display_name,
        host,
        data.port,
        security,
        username,
        from_address,
        mailbox,
        data.purpose,
        addresses,
        cert,
        field_mappings=data.field_mappings,
    )


def _normalise_http(check: Validator, data: ConnectionFields, secrets: Secrets) -> ConnectionFields:
    kind = data.type
    base_url = data.base_url.strip() or DEFAULT_BASE_URLS.get(kind, "")
    if not base_url:
        check.add("base_url", f"is required for an {kind} connection")
    else:
        base_url = _url(check, "base_url", base_url)
    username = check.text("username", data.username, 320)
    database = check.text("database", data.database, 200)
    realm_id = check.text("realm_id", data.realm_id, 64)
    xero_tenant_id = check.text("xero_tenant_id", data.xero_tenant_id, 64)
    client_id = check.text("oauth2.client_id", data.client_id, 500)
    token_url = ""
    if kind == "ODOO":
        if not database:
            check.add("database", "is required for an ODOO connection")
        if not username:
            check.add("username", "is required for an ODOO connection: the login the API key belongs to")
        if not secrets.api_key:
            check.add("api_key", "is required for an ODOO connection")
        for name in ("client_secret", "refresh_token", "access_token"):
            if getattr(secrets, name):
                check.add(f"oauth2.{name}", "is not used by an ODOO connection")
        if secrets.webhook_key:
            check.add("webhook_key", "is not used by an ODOO connection")
    else:
        token_url = _url(check, "oauth2.token_url", data.token_url.strip() or DEFAULT_TOKEN_URLS[kind])
        if not client_id:
            check.add("oauth2.client_id", f"is required for a {kind} connection")
        if not secrets.client_secret:
            check.add("oauth2.client_secret", f"is required for a {kind} connection")
        if not secrets.refresh_token:
            check.add("oauth2.refresh_token", f"is required for a {kind} connection")
        if secrets.api_key:
            check.add("api_key", f"is not used by a {kind} connection")
    if kind == "QUICKBOOKS" and not realm_id:
        check.add("realm_id", "is required for a QUICKBOOKS connection")
    if kind == "XERO" and not xero_tenant_id:
        check.add("xero_tenant_id", "is required for a XERO connection")
    if secrets.password:
        check.add("password", f"is not used by a {kind} connection (use api_key or oauth2)")
    if not 0 <= data.requests_per_minute <= MAX_REQUESTS_PER_MINUTE:
        check.add("requests_per_minute", f"must be between 0 and {MAX_REQUESTS_PER_MINUTE}")
    return ConnectionFields(
        kind,
        data.display_name,
        username=username,
        base_url=base_url,
        database=database,
        realm_id=realm_id,
        xero_tenant_id=xero_tenant_id,
        client_id=client_id,
        token_url=token_url,
        requests_per_minute=data.requests_per_minute,
        field_mappings=data.field_mappings,
        access_token_expire_time=data.access_token_expire_time if secrets.access_token else None,
    )


def normalise(data: ConnectionFields, secrets: Secrets | str) -> ConnectionFields:
    if isinstance(secrets, str):
        secrets = Secrets(password=secrets)
    check = Validator()
    kind = data.type
    if kind not in TYPES:
        check.add("type", f"must be one of {', '.join(TYPES)}")
    name = check.text("display_name", data.display_name, MAX_NAME)
    if not name:
        check.add("display_name", "is required")
    for secret in SECRET_NAMES:
        if len(getattr(secrets, secret)) > MAX_SECRET:
            check.add(secret, f"must be at most {MAX_SECRET} characters")
    mappings = _mappings(check, data.field_mappings)
    data = replace(data, display_name=name, field_mappings=mappings)
    normalised = _normalise_http(check, data, secrets) if kind in HTTP_TYPES else _normalise_email(check, data, secrets)
    check.raise_if_any()
    return normalised


def _config(data: ConnectionFields, stored: tuple[str, ...]) -> dict[str, Any]:
    config: dict[str, Any] = {
        "host": data.host,
        "port": data.port,
        "security": data.security,
        "username": data.username,
        "from_address": data.from_address,
        "mailbox": data.mailbox,
        "purpose": data.purpose,
        "support_addresses": list(data.support_addresses),
        "ca_certificate": data.ca_certificate,
        # Secrets are sealed together as one JSON object; the names (never values) say which.
        "secret_format": "json",
        "stored_secrets": list(stored),
    }
    if data.type in HTTP_TYPES:
        expires = data.access_token_expire_time
        config.update(
            base_url=data.base_url,
            database=data.database,
            realm_id=data.realm_id,
            xero_tenant_id=data.xero_tenant_id,
            client_id=data.client_id,
            token_url=data.token_url,
            requests_per_minute=data.requests_per_minute,
            access_token_expire_time=expires.isoformat() if expires else "",
        )
    if data.field_mappings:
        config["field_mappings"] = [
            {"stream": m.stream, "external": m.external_field, "crm": m.crm_field, "direction": m.direction}
            for m in data.field_mappings
        ]
    return config


# API paths (update masks) -> the ConnectionFields or Secrets attribute they change.
SECRET_PATHS = {
    "password": "password",
    "api_key": "api_key",
    "oauth2.client_secret": "client_secret",
    "oauth2.refresh_token": "refresh_token",
    "oauth2.access_token": "access_token",
    "webhook_key": "webhook_key",
}
UPDATABLE = {
    **{
        name: name
        for name in (
            "display_name",
            "host",
            "port",
            "security",
            "username",
            "from_address",
            "mailbox",
            "purpose",
            "support_addresses",
            "ca_certificate",
            "base_url",
            "database",
            "realm_id",
            "xero_tenant_id",
            "requests_per_minute",
            "field_mappings",
        )
    },
    "oauth2.client_id": "client_id",
    "oauth2.token_url": "token_url",
    "oauth2.access_token_expire_time": "access_token_expire_time",
    **SECRET_PATHS,
}
OUTPUT_ONLY = frozenset(
    {
        "id",
        "has_password",
        "has_api_key",
        "has_webhook_key",
        "key_id",
        "create_time",
        "update_time",
        "oauth2.has_client_secret",
        "oauth2.has_refresh_token",
        "oauth2.has_access_token",
    }
)


def _populated(patch: ConnectionFields, secrets: Secrets, path: str) -> bool:
    source: Any = secrets if path in SECRET_PATHS else patch
    return bool(getattr(source, UPDATABLE[path]))


def _connection(row: ConnectionRow) -> Connection:
    c = row.config
    expires = c.get("access_token_expire_time") or ""
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
        base_url=c.get("base_url", ""),
        database=c.get("database", ""),
        realm_id=c.get("realm_id", ""),
        xero_tenant_id=c.get("xero_tenant_id", ""),
        client_id=c.get("client_id", ""),
        token_url=c.get("token_url", ""),
        requests_per_minute=int(c.get("requests_per_minute", 0)),
        field_mappings=tuple(
            FieldMapping(m["stream"], m["external"], m["crm"], m.get("direction", "BOTH"))
            for m in c.get("field_mappings", ())
        ),
        access_token_expire_time=dt.datetime.fromisoformat(expires) if expires else None,
    )
    if c.get("secret_format") == "json":
        stored = tuple(c.get("stored_secrets", ()))
    else:  # sealed before docs/adr/0057: the password alone
        stored = ("password",) if row.sealed_secret else ()
    return Connection(
        row.id,
        row.tenant_id,
        data,
        "password" in stored,
        row.key_id,
        row.create_time,
        row.update_time,
        stored,
    )


# --- connections ---


class Connections:
    def __init__(
        self,
        database: Database,
        secrets: LazySecretBox,
        connectors: Connectors | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.database = database
        self.secrets = secrets
        self.connectors = connectors
        self.clock = clock

    def _check_streams(self, data: ConnectionFields) -> None:
        streams = self.connectors.streams_of(data.type) if self.connectors is not None else None
        if streams is None:
            return
        check = Validator()
        by_name = {s.name: s for s in streams}
        for i, mapping in enumerate(data.field_mappings):
            spec = by_name.get(mapping.stream)
            if spec is None:
                names = ", ".join(by_name) or "none"
                check.add(f"field_mappings[{i}].stream", f"must be one of the connector's streams: {names}")
            elif not mapping.crm_field.startswith("customFields.") and mapping.crm_field not in spec.crm_fields:
                allowed = ", ".join(sorted(spec.crm_fields)) or "none"
                check.add(
                    f"field_mappings[{i}].crm_field",
                    f"must be customFields.<key> or one of the stream's fields: {allowed}",
                )
        check.raise_if_any()

    def create(self, principal: Principal, data: ConnectionFields, secrets: Secrets | str) -> Connection:
        if isinstance(secrets, str):
            secrets = Secrets(password=secrets)
        data = normalise(data, secrets)
        self._check_streams(data)
        now = self.clock()
        box = self.secrets.box
        stored = secrets.stored()
        row = ConnectionRow(
            id=new_id(),
            tenant_id=principal.tenant_id,
            type=data.type,
            display_name=data.display_name,
            config=_config(data, stored),
            sealed_secret=box.seal(json.dumps(secrets.as_dict())) if stored else "",
            key_id=box.current_key_id if stored else "",
            create_time=now,
            update_time=now,
        )
        with self.database.transaction() as session:
            session.add(row)
            session.flush()
        log.info("connection %s (%s) created for tenant %s", row.id, data.type, principal.tenant_id)
        return _connection(row)

    def update(
        self, principal: Principal, connection_id: str, patch: ConnectionFields, secrets: Secrets, mask: list[str]
    ) -> Connection:
        """AIP-134: the masked fields (or, without a mask, the populated ones) replaced; a secret
        changes only when named or given. Cursors and external ids stay."""
        paths = [name for name in UPDATABLE if _populated(patch, secrets, name)] if not mask else list(mask)
        if "oauth2" in paths:  # the whole message
            paths = [p for p in paths if p != "oauth2"] + [p for p in UPDATABLE if p.startswith("oauth2.")]
        check = Validator()
        for path in paths:
            if path == "type":
                check.add("update_mask", "type cannot change: create another connection")
            elif path not in UPDATABLE and path not in OUTPUT_ONLY:
                check.add("update_mask", f"unknown or read-only field {path!r}")
        check.raise_if_any()
        paths = [p for p in paths if p in UPDATABLE]
        with self.database.transaction() as session:
            row = tenant_row(session, ConnectionRow, principal.tenant_id, connection_id, for_update=True)
            if row is None:
                raise NotFound.resource("connection", connection_id)
            current = self._open(row)
            new_secrets = replace(
                current.secrets, **{UPDATABLE[p]: getattr(secrets, UPDATABLE[p]) for p in paths if p in SECRET_PATHS}
            )
            fields_changed = {UPDATABLE[p]: getattr(patch, UPDATABLE[p]) for p in paths if p not in SECRET_PATHS}
            merged = normalise(replace(current.connection.data, **fields_changed), new_secrets)
            self._check_streams(merged)
            box = self.secrets.box
            stored = new_secrets.stored()
            row.display_name = merged.display_name
            row.config = _config(merged, stored)
            row.sealed_secret = box.seal(json.dumps(new_secrets.as_dict())) if stored else ""
            row.key_id = box.current_key_id if stored else ""
            row.update_time = self.clock()
            session.flush()
            log.info("connection %s updated: %s", row.id, ", ".join(sorted(paths)) or "nothing")
            return _connection(row)

    def get(self, principal: Principal, connection_id: str) -> Connection:
        with self.database.transaction() as session:
            return _connection(self._row(session, principal.tenant_id, connection_id))

    def listed(self, principal: Principal, requested_size: int, page_token: str) -> tuple[list[Connection], str]:
        size = page_size(requested_size)
        after = decode_cursor(page_token, "connections")
        with self.database.transaction() as session:
            rows = [_connection(r) for r in tenant_page(session, ConnectionRow, principal.tenant_id, after, size + 1)]
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
        connection = _connection(row)
        if not row.sealed_secret:
            return Credentials(connection)
        opened = self.secrets.box.open(row.sealed_secret)
        if row.config.get("secret_format") == "json":
            secrets = Secrets(**{k: v for k, v in json.loads(opened).items() if k in SECRET_NAMES})
        else:
            secrets = Secrets(password=opened)
        return Credentials(connection, secrets.password, secrets)

    def refresh_tokens(
        self,
        tenant_id: str,
        connection_id: str,
        still_valid: Callable[[Credentials], bool],
        refresh: Callable[[Credentials], tuple[str, dt.datetime, str]],
    ) -> Credentials:
        """Refresh an OAuth 2.0 access token at most once among concurrent callers: under the row's
        lock, unless another caller refreshed meanwhile (`still_valid`), call `refresh` (answers the
        access token, its expiry and the refresh token, possibly rotated) and seal the new tokens."""
        with self.database.transaction() as session:
            row = tenant_row(session, ConnectionRow, tenant_id, connection_id, for_update=True)
            if row is None:
                raise NotFound.resource("connection", connection_id)
            current = self._open(row)
            if still_valid(current):
                return current
            access_token, expires, refresh_token = refresh(current)
            secrets = replace(
                current.secrets, access_token=access_token, refresh_token=refresh_token or current.secrets.refresh_token
            )
            box = self.secrets.box
            data = replace(current.connection.data, access_token_expire_time=expires)
            row.config = _config(data, secrets.stored())
            row.sealed_secret = box.seal(json.dumps(secrets.as_dict()))
            row.key_id = box.current_key_id
            row.update_time = self.clock()
            session.flush()
            log.info("connection %s: access token refreshed, valid until %s", row.id, expires.isoformat())
            return self._open(row)

    def of_type_in(self, session: Session, kind: str, tenant_id: str) -> list[Credentials]:
        """`of_type` in the caller's transaction: a consumer must not open a second one (on SQLite,
        one writer, that waits on the consumer's own lock until the busy timeout)."""
        rows = session.scalars(
            sa.select(ConnectionRow)
            .where(ConnectionRow.type == kind, ConnectionRow.tenant_id == tenant_id)
            .order_by(ConnectionRow.id)
        )
        return [self._open(r) for r in rows]

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
        row = tenant_row(session, ConnectionRow, tenant_id, connection_id)
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
    updated_count: int = 0


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
        sa.select(ExternalIdRow.internal_id).where(*_mapped(connection_id, object_type, external_id))
    ).one()


# What an external record's mapping points to once the person it was mapped to is erased: a
# tombstone, so that a later change of that record in the outside system is not imported as a new
# person (it still holds the data the erasure removed here; the outside system is its own
# controller's to erase). Connectors treat it as "known, never import" (docs/adr/0083).
ERASED_MAPPING = "erased"


def erase_mappings(session: Session, tenant_id: str, object_type: str, internal_id: str) -> int:
    """Turn the tenant's mappings of `internal_id` into tombstones (no synced hashes kept); how many."""
    return session.execute(  # type: ignore[attr-defined, no-any-return]
        sa.update(ExternalIdRow)
        .where(
            ExternalIdRow.tenant_id == tenant_id,
            ExternalIdRow.object_type == object_type,
            ExternalIdRow.internal_id == internal_id,
        )
        .values(internal_id=ERASED_MAPPING, synced=None)
    ).rowcount


def _mapped(connection_id: str, object_type: str, external_id: str) -> tuple[sa.ColumnElement[bool], ...]:
    return (
        ExternalIdRow.connection_id == connection_id,
        ExternalIdRow.object_type == object_type,
        ExternalIdRow.external_id == external_id,
    )


def internal_id_of(session: Session, connection_id: str, object_type: str, external_id: str) -> str | None:
    return session.scalars(
        sa.select(ExternalIdRow.internal_id).where(*_mapped(connection_id, object_type, external_id))
    ).first()


def external_id_of(session: Session, connection_id: str, object_type: str, internal_id: str) -> str | None:
    return session.scalars(
        sa.select(ExternalIdRow.external_id)
        .where(
            ExternalIdRow.connection_id == connection_id,
            ExternalIdRow.object_type == object_type,
            ExternalIdRow.internal_id == internal_id,
        )
        .order_by(ExternalIdRow.create_time)
    ).first()


def _hash(value: Any) -> str:
    if value is None or value is False:
        value = ""  # one thing to most remote systems (Odoo answers False for an empty field)
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def synced_of(
    session: Session, connection_id: str, object_type: str, external_id: str, lock: bool = False
) -> dict[str, str]:
    """Field -> hash of the value last synced for a mapped record ({} when none). `lock` holds the
    mapping until the transaction ends: the two directions of a sync lock it before comparing, so
    one waits for the other's hashes instead of reading stale ones and echoing."""
    query = sa.select(ExternalIdRow.synced).where(*_mapped(connection_id, object_type, external_id))
    found = session.scalars(query.with_for_update() if lock else query).first()
    return dict(found or {})


def unchanged(synced: dict[str, str], values: dict[str, Any]) -> bool:
    """Whether every field of `values` is what was last synced (then sending it is an echo). A field
    never synced counts as empty (e.g. one a mapping reads that our own write did not set)."""
    empty = _hash("")
    return bool(synced) and all(synced.get(name, empty) == _hash(value) for name, value in values.items())


def remember_synced(
    session: Session, connection_id: str, object_type: str, external_id: str, values: dict[str, Any]
) -> None:
    """Record `values` (hashed) as the fields' last synced state, keeping other fields' hashes."""
    synced = synced_of(session, connection_id, object_type, external_id)
    synced.update({name: _hash(value) for name, value in values.items()})
    session.execute(
        sa.update(ExternalIdRow).where(*_mapped(connection_id, object_type, external_id)).values(synced=synced)
    )


def add_dead_letter(
    session: Session, tenant_id: str, connection_id: str, stream: str, external_id: str, payload: bytes, error: str
) -> str:
    """Keep a failed record. A record already waiting unresolved (same stream and external id) gets
    the new payload and error and one more attempt, rather than a second letter."""
    now = utcnow()
    external_id = external_id[:998]
    if external_id:
        waiting = session.scalars(
            sa.select(DeadLetterRow)
            .where(
                DeadLetterRow.connection_id == connection_id,
                DeadLetterRow.stream == stream,
                DeadLetterRow.external_id == external_id,
                DeadLetterRow.resolve_time.is_(None),
            )
            .with_for_update()
        ).first()
        if waiting is not None:
            waiting.payload, waiting.error = payload, error[:2000]
            waiting.attempts += 1
            waiting.update_time = now
            session.flush()
            return waiting.id
    letter_id = new_id()
    session.add(
        DeadLetterRow(
            id=letter_id,
            tenant_id=tenant_id,
            connection_id=connection_id,
            stream=stream,
            external_id=external_id,
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
        row.updated_count,
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


class SyncState:
    """Runs, dead letters and replays over the connectors registered per connection type."""

    def __init__(self, database: Database, connections: Connections, connectors: Connectors) -> None:
        self.database = database
        self.connections = connections
        self.connectors = connectors

    def sync(
        self, principal: Principal, connection_id: str, trigger: str = "manual", full_refresh: bool = False
    ) -> SyncRun:
        credentials = self.connections.credentials(principal.tenant_id, connection_id)
        return self.run(credentials, trigger, full_refresh)

    def run(self, credentials: Credentials, trigger: str, full_refresh: bool = False) -> SyncRun:
        connection = credentials.connection
        connector = self.connectors.of(connection.data.type)
        if not connector.streams:
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
                    updated_count=0,
                    error="",
                    start_time=run.start_time,
                    end_time=None,
                )
            )
        try:
            finished = replace(connector.sync(credentials, run, full_refresh), status="SUCCEEDED")
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
                "updated_count",
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
            connector = self.connectors.of(credentials.connection.data.type)
            try:
                with session.begin_nested():
                    connector.replay(session, credentials, _letter(row))
            except Exception as exc:
                row.error = f"{type(exc).__name__}: {exc}"[:2000]
            else:
                row.resolve_time = utcnow()
                row.error = ""
            row.attempts += 1
            row.update_time = utcnow()
            return _letter(row)
