"""JSON log lines carrying trace and span ids, the service, and the request's tenant and id.

Log messages name ids, never personal data (names, emails, phones): tests check this.
"""

from __future__ import annotations

import contextvars
import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from crmkit.telemetry import current_ids

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("crm_request_id", default="")
tenant_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("crm_tenant_id", default="")


class _ContextFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.trace_id, record.span_id = current_ids()
        record.service = self.service
        record.request_id = request_id_var.get()
        record.tenant_id = tenant_id_var.get()
        return True


def setup_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter(service))
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(levelname)s %(name)s %(message)s %(service)s %(trace_id)s %(span_id)s %(request_id)s %(tenant_id)s",
                rename_fields={"levelname": "level", "name": "logger"},
                timestamp="time",
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(service)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("pika", "werkzeug", "alembic.runtime.migration", "sqlalchemy", "urllib3", "grpc"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
