"""What a service hands to the target runner: the composition root's product (like Loki's modules)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from crmkit.db import Database
from crmkit.events.consumer import EventConsumer
from crmkit.events.outbox import Outbox
from crmkit.events.retention import Expiring
from crmkit.grpcserver import Registration
from crmkit.tokens import InternalTokens

log = logging.getLogger(__name__)


@dataclass
class ServiceModule:
    name: str
    database: Database
    migrations: Path
    registrations: list[Registration] = field(default_factory=list)
    # Full names of the gRPC services it serves (for health and reflection).
    grpc_services: list[str] = field(default_factory=list)
    consumers: list[EventConsumer] = field(default_factory=list)
    outbox: Outbox | None = None
    # Background loops the service's target runs, one thread each, until the stop event is set
    # (e.g. support's SLA scheduler).
    workers: list[tuple[str, Callable[[threading.Event], None]]] = field(default_factory=list)
    # The process's internal-token key, set by the target before it starts the workers: background
    # work that calls other services as the tenant's service principal mints its identity with it
    # (tokens.acting_as; docs/adr/0052, 0062).
    tokens: InternalTokens | None = None
    # The service's own tables whose old rows the target's retention loop deletes, beside the
    # outbox and inbox (e.g. automation executions).
    retained: list[Expiring] = field(default_factory=list)

    def token_issuer(self) -> InternalTokens:
        """The internal-token key (for a worker's calls); set once the target started the module."""
        if self.tokens is None:
            raise RuntimeError(f"{self.name} has no internal token key yet: its target sets it on start")
        return self.tokens


def every(
    seconds: float,
    tick: Callable[[], object],
    what: str,
    *,
    wake: threading.Event | None = None,
    again: Callable[[object], bool] | None = None,
) -> Callable[[threading.Event], None]:
    """A worker that runs `tick` now and then every `seconds` until stopped; a failing tick (the
    database away, say) is logged and the next one tries again, so the thread never dies.

    `again(result)` true means the tick left work behind (a full batch): the next one runs at once.
    With `wake`, the pause ends early when that event is set (work committed in this process);
    whoever stops the worker sets it too, or the pause runs its course."""

    def run(stop: threading.Event) -> None:
        while not stop.is_set():
            if wake is not None:
                wake.clear()
            try:
                result = tick()
            except Exception:
                log.exception("%s failed; trying again in %.0f s", what, seconds)
            else:
                if again is not None and again(result):
                    continue
            (wake or stop).wait(seconds)

    return run
