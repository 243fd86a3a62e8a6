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
    # Given the process's internal-token minter when the target starts, before its consumers and
    # workers run: background work that calls another service acts for a tenant through it
    # (crmkit.tokens.acting_as), e.g. integrations' accounting sync reading contacts.
    on_tokens: list[Callable[[InternalTokens], None]] = field(default_factory=list)
