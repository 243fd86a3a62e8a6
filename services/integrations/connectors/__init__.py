"""The connector protocol and registry (docs/adr/0057).

A connector is what one connection type knows how to do: `check` the connection (steps, each with
the server's answer), `sync` its streams (full or incremental, cursors moved with the data), and
`replay` a dead letter of one of its streams. Write operations (pushing CRM changes out) are the
connector's own event consumers; a write that fails is kept as a dead letter of an outbound
stream and replayed the same way. `ConnectionsService` dispatches to the registry by type; the
email connectors (SMTP, IMAP) and the ERP/accounting ones plug in alike.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from crmkit.errors import FailedPrecondition
from services.integrations.connections import Credentials, DeadLetter, SyncRun, SyncState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class StreamSpec:
    """A stream a connector reads: `incremental` when it has a cursor field (else always full).
    `crm_fields`: the standard CRM fields a field mapping of the stream may name (custom fields,
    "customFields.<key>", always may)."""

    name: str
    cursor_field: str = ""
    crm_fields: frozenset[str] = frozenset()

    @property
    def incremental(self) -> bool:
        return bool(self.cursor_field)


class Connector(Protocol):
    type: str
    streams: tuple[StreamSpec, ...]

    def check(self, credentials: Credentials) -> tuple[bool, list[Step]]:
        """Talk to the system for real; answer whether it worked and each step tried."""
        ...

    def sync(self, credentials: Credentials, run: SyncRun, full_refresh: bool) -> SyncRun:
        """Read every stream (from its cursor unless `full_refresh`); answer the run's counts."""
        ...

    def replay(self, session: Session, credentials: Credentials, letter: DeadLetter) -> None:
        """Process one dead letter again in `session`; raise to keep it dead."""
        ...


class Connectors:
    """The connectors by connection type."""

    def __init__(self) -> None:
        self._by_type: dict[str, Connector] = {}

    def register(self, connector: Connector) -> None:
        if connector.type in self._by_type:
            raise ValueError(f"a connector for {connector.type} is registered already")
        self._by_type[connector.type] = connector

    def of(self, kind: str) -> Connector:
        found = self._by_type.get(kind)
        if found is None:
            raise FailedPrecondition(f"no connector handles {kind} connections in this deployment")
        return found

    def streams_of(self, kind: str) -> tuple[StreamSpec, ...] | None:
        """The streams a type's connector reads and writes (None: no connector registered)."""
        found = self._by_type.get(kind)
        return None if found is None else found.streams


class SyncWorker:
    """Syncs every connection of `types` incrementally every `poll_seconds` (each a scheduled run)."""

    def __init__(self, sync: SyncState, types: tuple[str, ...], poll_seconds: float) -> None:
        self.sync = sync
        self.types = types
        self.poll_seconds = poll_seconds

    def run(self, stop: threading.Event) -> None:
        if self.poll_seconds <= 0:
            return
        while not stop.wait(self.poll_seconds):
            started = time.monotonic()
            for kind in self.types:
                try:
                    found = self.sync.connections.of_type(kind)
                except Exception:  # the database may be away: try again next time
                    log.exception("listing %s connections failed", kind)
                    continue
                for credentials in found:
                    if stop.is_set():
                        return
                    self.sync.run(credentials, "scheduled")  # a failed run is recorded, not raised
            log.debug("scheduled connector syncs took %.1fs", time.monotonic() - started)
