"""What a service hands to the target runner: the composition root's product (like Loki's modules)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from crmkit.db import Database
from crmkit.events.consumer import EventConsumer
from crmkit.events.outbox import Outbox
from crmkit.grpcserver import Registration
from crmkit.tokens import InternalTokens


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
    # The process's internal tokens, set by the target runner before anything starts: consumers and
    # workers that call other services use them with tokens.acting_as (read them when working, not
    # when building the module).
    tokens: InternalTokens | None = None
