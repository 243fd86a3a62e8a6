"""Targets: what one process runs. `all` hosts every module in one process (embedded default);
in Kubernetes each Deployment runs one target (DESIGN.md, like Loki's single binary)."""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa

from crmkit import metrics
from crmkit.config import SERVICE_NAMES, ConfigError, Settings
from crmkit.events import make_bus
from crmkit.events.relay import BacklogReporter, OutboxRelay
from crmkit.events.retention import Retention
from crmkit.events.stats import QueueStatsReporter
from crmkit.events.transport import Bus
from crmkit.grpcserver import RunningServer, start_server
from crmkit.logs import setup_logging
from crmkit.migrations import upgrade
from crmkit.module import ServiceModule
from crmkit.signals import stop_on_signals
from crmkit.telemetry import setup_tracing, shutdown_tracing
from crmkit.tokens import InternalTokens

TARGETS = ("all", "gateway", "relay", *SERVICE_NAMES)
log = logging.getLogger(__name__)


def load_module(name: str, settings: Settings) -> ServiceModule:
    if name not in SERVICE_NAMES:
        raise ConfigError(f"unknown service {name!r}; one of {', '.join(SERVICE_NAMES)}")
    module: ServiceModule = importlib.import_module(f"services.{name}.module").build(settings)
    return module


def internal_tokens(settings: Settings, target: str) -> InternalTokens:
    secret = settings.internal_token_secret
    if not secret:
        if target != "all":
            raise ConfigError(
                "CRM_INTERNAL_TOKEN_SECRET must be set (32+ characters, the same in every process) "
                "when the gateway and services run as separate processes"
            )
        secret = secrets.token_urlsafe(48)  # one process: nobody else needs to verify its tokens
    if len(secret) < 32:
        raise ConfigError("CRM_INTERNAL_TOKEN_SECRET must be at least 32 characters")
    return InternalTokens(secret, settings.internal_token_ttl_seconds)


def migrate(settings: Settings, names: Iterable[str] = ("gateway", *SERVICE_NAMES)) -> None:
    """Create missing PostgreSQL databases, run every Alembic history to head, declare queues."""
    from gateway.module import MIGRATIONS as GATEWAY_MIGRATIONS

    bus: Bus | None = make_bus(settings) if settings.bus == "rabbitmq" else None
    for name in names:
        url = settings.database_url_for(name)
        ensure_database(url)
        if name == "gateway":
            upgrade(GATEWAY_MIGRATIONS, url)
        else:
            module = load_module(name, settings)
            upgrade(module.migrations, url)
            for consumer in module.consumers if bus else []:
                bus.declare(consumer.subscription)  # type: ignore[union-attr]
            module.database.dispose()
        log.info("migrated %s", name)


def ensure_database(url: str) -> None:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "postgresql" or not parsed.database:
        return
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as connection:
            exists = connection.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
            ).first()
            if not exists:
                quoted = admin.dialect.identifier_preparer.quote(parsed.database)
                connection.execute(sa.text(f"CREATE DATABASE {quoted}"))
                log.info("created database %s", parsed.database)
    finally:
        admin.dispose()


@dataclass
class Process:
    """Everything one target started, so that it can be stopped in order."""

    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    servers: list[RunningServer] = field(default_factory=list)
    stoppers: list[Callable[[], None]] = field(default_factory=list)

    def spawn(self, name: str, run: Callable[[threading.Event], None]) -> None:
        thread = threading.Thread(target=run, args=(self.stop,), name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def shutdown(self, grace: float = 5.0) -> None:
        self.stop.set()
        for stopper in self.stoppers:
            stopper()
        for server in self.servers:
            server.stop(grace)
        for thread in self.threads:
            thread.join(timeout=grace)


def check(target: str, settings: Settings) -> InternalTokens:
    """Fail fast, before anything binds a port, when the settings cannot work for this target."""
    if target not in TARGETS:
        raise ConfigError(f"unknown target {target!r}; one of {', '.join(TARGETS)}")
    if target not in ("all", "gateway") and settings.bus == "inprocess":
        raise ConfigError(
            "CRM_BUS=inprocess connects modules only inside one process: "
            "use --target all, or set CRM_BUS=rabbitmq for separate processes"
        )
    if target == "gateway" and not settings.redis_url:
        raise ConfigError(
            "CRM_REDIS_URL must be set for --target gateway: rate limits and idempotency keys are shared "
            "by every gateway process through Redis (only --target all keeps them in process)"
        )
    return internal_tokens(settings, target)


def start(
    target: str, settings: Settings, tokens: InternalTokens | None = None, process: Process | None = None
) -> Process:
    """Start a target's components in this process and return without blocking."""
    tokens = tokens or check(target, settings)
    process = process or Process()
    bus = make_bus(settings)
    process.stoppers.append(bus.close)
    names = list(SERVICE_NAMES) if target in ("all", "relay") else [target] if target in SERVICE_NAMES else []
    modules = [load_module(name, settings) for name in names]
    if target != "relay":
        for module in modules:
            _start_service(module, settings, tokens, bus, process)
    if target in ("all", "relay"):
        relays = [
            OutboxRelay(
                m.database,
                m.outbox.table,
                bus.publisher(),
                source=m.name,
                batch_size=settings.relay_batch_size,
                poll_seconds=settings.relay_poll_seconds,
                wakeup=m.outbox.written,
            )
            for m in modules
            if m.outbox is not None
        ]
        for relay in relays:
            process.spawn(f"relay-{relay.source}", relay.run)
        process.spawn("outbox-backlog", BacklogReporter(relays, settings.stats_interval_seconds).run)
    if target == "all":
        from gateway.module import ThreadedServer, build_app

        server = ThreadedServer(build_app(settings, tokens), settings.gateway_addr)
        server.start()
        process.stoppers.append(server.stop)
    return process


def _start_service(
    module: ServiceModule, settings: Settings, tokens: InternalTokens, bus: Bus, process: Process
) -> None:
    module.tokens = tokens
    process.servers.append(
        start_server(module.name, module.registrations, module.grpc_services, settings.grpc_bind(module.name), tokens)
    )
    for consumer in module.consumers:
        bus.declare(consumer.subscription)
        process.spawn(
            f"consumer-{consumer.name}",
            lambda stop, c=consumer: bus.consume(c.subscription, c.handle_batch, stop),  # type: ignore[misc]
        )
    if module.consumers:
        reporter = QueueStatsReporter(bus, [c.name for c in module.consumers], settings.stats_interval_seconds)
        process.spawn(f"queue-stats-{module.name}", reporter.run)
    for name, work in module.workers:
        process.spawn(f"{module.name}-{name}", work)
    if module.outbox is not None:  # the inbox sits beside the outbox in every service's metadata
        retention = Retention(
            module.name,
            module.database,
            module.outbox.table,
            module.outbox.table.metadata.tables["inbox"],
            outbox_keep=dt.timedelta(hours=settings.outbox_retention_hours),
            inbox_keep=dt.timedelta(hours=settings.inbox_retention_hours),
            interval_seconds=settings.retention_interval_seconds,
            also=module.retained,
        )
        process.spawn(f"retention-{module.name}", retention.run)


def run(target: str, settings: Settings) -> None:
    """Run a target in the foreground until SIGTERM or SIGINT."""
    tokens = check(target, settings)
    setup_logging(target, settings.log_level, settings.log_format)
    if target == "gateway":  # tracing and metrics start in the gunicorn worker, after the fork
        from gateway.module import serve_gunicorn

        serve_gunicorn(settings, tokens, settings.metrics_port_for(target))
        return
    setup_tracing(target)
    metrics.serve(settings.metrics_port_for(target))
    # Handlers first: a SIGTERM while the components start (the gRPC server already answers health
    # checks, consumers still declare their queues) stops the target cleanly once they are up.
    process = Process()
    stop_on_signals(process.stop)
    start(target, settings, tokens, process)
    if target == "all":
        log.info("CRM suite running: gateway on http://%s", settings.gateway_addr)
    else:
        log.info("target %s running", target)
    process.stop.wait()
    log.info("stopping %s", target)
    process.shutdown()
    shutdown_tracing()
