"""Composition root of the gateway, and the two ways it is served.

Under `crm run --target gateway` it runs in gunicorn (gthread workers; the app is built in each
worker after the fork, so no gRPC channel crosses a fork). Under `--target all` it runs in
werkzeug's threaded server inside the one process that hosts every module.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import make_server

from crmkit import metrics
from crmkit.config import SERVICE_NAMES, ConfigError, Settings
from crmkit.db import Database
from crmkit.telemetry import setup_tracing, shutdown_tracing
from crmkit.tokens import InternalTokens
from gateway.app import Backends, create_app

NAME = "gateway"
MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)


def database(settings: Settings) -> Database:
    return Database(settings.database_url_for(NAME))


def build_app(settings: Settings, tokens: InternalTokens) -> Flask:
    backends = Backends(
        {name: settings.grpc_addr(name) for name in SERVICE_NAMES},
        settings.grpc_deadline_seconds,
        settings.get_retries,
    )
    return create_app(settings, database(settings), tokens, backends)


def split_addr(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


class ThreadedServer:
    """The gateway inside the `all` process."""

    def __init__(self, app: Flask, addr: str) -> None:
        host, port = split_addr(addr)
        try:
            self.server = make_server(host, port, app, threaded=True)
        except OSError as exc:
            raise ConfigError(f"the gateway cannot listen on {addr} ({exc.strerror}); set CRM_GATEWAY_ADDR") from None
        self.thread = threading.Thread(target=self.server.serve_forever, name="gateway-http", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()


def serve_gunicorn(settings: Settings, tokens: InternalTokens, metrics_port: int) -> None:
    from gunicorn.app.base import BaseApplication

    _RootLogger = _root_logger_class()

    class GatewayApplication(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options: dict[str, Any] = {
                "bind": settings.gateway_addr,
                "workers": settings.gateway_workers,
                "threads": settings.gateway_threads,
                "worker_class": "gthread",
                "timeout": 60,
                "graceful_timeout": 20,
                "keepalive": 5,
                "accesslog": None,
                # gunicorn's own messages go through the root logger, i.e. our JSON lines.
                "logger_class": _RootLogger,
                "post_worker_init": lambda _worker: _init_worker(metrics_port, settings.gateway_workers),
                "worker_exit": lambda _server, _worker: shutdown_tracing(),
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            return build_app(settings, tokens)

    GatewayApplication().run()


def _root_logger_class() -> type:
    from gunicorn import glogging

    class RootLogger(glogging.Logger):  # type: ignore[misc]
        def setup(self, cfg: Any) -> None:
            for logger in (self.error_log, self.access_log):
                logger.handlers = []
                logger.propagate = True
            self.error_log.setLevel(logging.INFO)

    return RootLogger


def _init_worker(port: int, workers: int) -> None:
    # Tracing starts in the worker: the span exporter's thread would not survive gunicorn's fork.
    setup_tracing(NAME)
    _worker_metrics(port, workers)


def _worker_metrics(port: int, workers: int) -> None:
    # One worker per pod is the supported layout (scale with replicas, ADR 0005): with more, only
    # the first worker to bind exposes its metrics.
    try:
        metrics.serve(port)
    except OSError:
        if workers == 1:
            raise
        log.warning("metrics port %d is taken by another worker", port)
