"""One SQLAlchemy engine per service database, and the column types every service shares."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSON everywhere, JSONB on PostgreSQL so that it can be indexed.
JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite would otherwise hand back naive ones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def is_unavailable(exc: BaseException) -> bool:
    """Whether a database error means "the database is away" (retry later) rather than a bug."""
    if isinstance(exc, sa.exc.DBAPIError):
        return exc.connection_invalidated or isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError))
    return isinstance(exc, sa.exc.DisconnectionError | sa.exc.TimeoutError)


def is_conflict(exc: BaseException) -> bool:
    """Whether a database error is a uniqueness conflict: two writers raced for the same key."""
    if not isinstance(exc, sa.exc.IntegrityError):
        return False
    sqlstate = getattr(exc.orig, "sqlstate", None)  # psycopg
    return sqlstate == "23505" or "UNIQUE constraint failed" in str(exc.orig)  # or SQLite


def one_of(column: Any, values: list[str], dialect: str) -> Any:
    """`column IN values`; on PostgreSQL `= ANY` of one array parameter, so the statement and its
    parameter count do not grow with the values (psycopg parses a statement of over 50 parameters
    anew on every call and cannot reuse a prepared one: ~4 ms of a 50-row page)."""
    if dialect == "postgresql":
        return column == sa.any_(sa.bindparam(None, list(values), type_=ARRAY(sa.String())))
    return column.in_(values)


Row = TypeVar("Row")


def tenant_row(
    session: Session, model: type[Row], tenant_id: str, row_id: str, *, for_update: bool = False
) -> Row | None:
    """The tenant's row of this model (with `tenant_id` and `id` columns) by id, locked if asked."""
    query = sa.select(model).where(model.tenant_id == tenant_id, model.id == row_id)  # type: ignore[attr-defined]
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).first()


def tenant_page(
    session: Session,
    model: type[Row],
    tenant_id: str,
    after: str | None,
    limit: int,
    *,
    equals: Mapping[str, object] | None = None,
) -> list[Row]:
    """Up to `limit` of the tenant's rows of this model in id order, after the id `after` (keyset);
    with `equals`, only the rows whose named columns hold these values (a list's filters)."""
    query = sa.select(model).where(model.tenant_id == tenant_id)  # type: ignore[attr-defined]
    for column, value in (equals or {}).items():
        query = query.where(getattr(model, column) == value)
    if after:
        query = query.where(model.id > after)  # type: ignore[attr-defined]
    return list(session.scalars(query.order_by(model.id).limit(limit)))  # type: ignore[attr-defined]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_metadata() -> sa.MetaData:
    return sa.MetaData(naming_convention=NAMING_CONVENTION)


def json_loads(data: str | bytes) -> Any:
    """`json.loads`, with the empty list and object (the usual value of most JSON columns: tags,
    further emails...) made without parsing: a page of contacts decodes four such values a row."""
    empty = _EMPTY_JSON.get(data)
    return empty() if empty is not None else json.loads(data)


_EMPTY_JSON: dict[str | bytes, Callable[[], Any]] = {"[]": list, b"[]": list, "{}": dict, b"{}": dict}


def create_engine(url: str, **kwargs: Any) -> Engine:
    kwargs.setdefault("json_deserializer", json_loads)
    if url.startswith("sqlite"):
        return _sqlite_engine(url, **kwargs)
    # Errors must not carry bound values into logs: they are customers' names, emails and phones.
    kwargs.setdefault("hide_parameters", True)
    kwargs.setdefault("pool_pre_ping", True)
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 10)
    return sa.create_engine(url, **kwargs)


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    database = sa.engine.make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    kwargs.setdefault("hide_parameters", True)
    engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

    # SQLAlchemy's documented recipe: let SQLAlchemy emit BEGIN itself, and make it IMMEDIATE so that
    # two writers queue on the busy timeout instead of one failing with "database is locked".
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class Database:
    """A service's database: its engine and a transaction scope."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_engine(url, **engine_kwargs)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Commit on success, roll back on any exception: nothing half-written."""
        with self._sessions.begin() as session:
            yield session

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
