"""The sales service (and the contacts service it converts leads into and checks contacts with)
over real gRPC on PostgreSQL, for the sales integration tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc
import sqlalchemy as sa
from crm.events.v1.envelope_pb2 import Envelope

from crmkit.config import Settings
from crmkit.db import Database
from crmkit.grpcserver import start_server
from crmkit.module import ServiceModule
from crmkit.tokens import InternalTokens, Principal
from services.contacts.module import build as build_contacts
from services.sales.module import build as build_sales
from services.sales.store import OUTBOX

TOKENS = InternalTokens("s" * 40)
SCOPES = frozenset({"sales:read", "sales:write", "sales:manage", "contacts:read", "contacts:write"})
MANAGER_A = Principal("TENANT_A", "user:manager", SCOPES)
MANAGER_B = Principal("TENANT_B", "apikey:other", SCOPES)
REP_A = Principal("TENANT_A", "user:rep", SCOPES, own_records_only=True)
ADMIN_B = Principal("TENANT_B", "user:b", SCOPES)


def as_(principal: Principal) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {TOKENS.mint(principal)}")]


@dataclass
class Running:
    module: ServiceModule
    database: Database
    channel: grpc.Channel
    port: int

    def stub(self, stub_class: Any) -> Any:
        return stub_class(self.channel)

    def events(self, subject: str | None = None) -> list[Envelope]:
        with self.database.transaction() as session:
            query = sa.select(OUTBOX.c.payload).order_by(OUTBOX.c.id)
            if subject:
                query = query.where(OUTBOX.c.subject == subject)
            return [Envelope.FromString(p) for p in session.execute(query).scalars()]

    def event_types(self, subject: str | None = None) -> list[str]:
        return [e.type.rsplit(".", 1)[-1] for e in self.events(subject)]


def run_service(name: str, database: Database, **env: str):
    import importlib

    build = importlib.import_module(f"services.{name}.module").build
    module = build(Settings.from_env({f"CRM_{name.upper()}_DATABASE_URL": database.url, **env}))
    server = start_server(name, module.registrations, module.grpc_services, "127.0.0.1:0", TOKENS)
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")

    def stop() -> None:
        channel.close()
        server.stop(0)
        module.database.dispose()

    return Running(module, database, channel, server.port), stop


def code_of(call: Any) -> grpc.StatusCode:
    try:
        call()
    except grpc.RpcError as exc:
        return exc.code()
    raise AssertionError("the call succeeded")


def violations(call: Any) -> set[str]:
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    try:
        call()
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT, exc.details()
        [detail] = rpc_status.from_call(exc).details
        bad_request = error_details_pb2.BadRequest()
        detail.Unpack(bad_request)
        return {v.field for v in bad_request.field_violations}
    raise AssertionError("the call succeeded")


@dataclass
class RunningSales:
    module: ServiceModule
    database: Database
    channel: grpc.Channel
    contacts: grpc.Channel

    def stub(self, stub_class: Any) -> Any:
        return stub_class(self.channel)

    def events(self, subject: str | None = None) -> list[Envelope]:
        with self.database.transaction() as session:
            query = sa.select(OUTBOX.c.payload).order_by(OUTBOX.c.id)
            if subject:
                query = query.where(OUTBOX.c.subject == subject)
            return [Envelope.FromString(p) for p in session.execute(query).scalars()]

    def event_types(self, subject: str | None = None) -> list[str]:
        return [e.type.rsplit(".", 1)[-1] for e in self.events(subject)]


def run_sales(sales_db: Database, contacts_db: Database):
    contacts = build_contacts(Settings.from_env({"CRM_CONTACTS_DATABASE_URL": contacts_db.url}))
    contacts_server = start_server("contacts", contacts.registrations, contacts.grpc_services, "127.0.0.1:0", TOKENS)
    env = {"CRM_SALES_DATABASE_URL": sales_db.url, "CRM_CONTACTS_ADDR": f"127.0.0.1:{contacts_server.port}"}
    module = build_sales(Settings.from_env(env))
    server = start_server("sales", module.registrations, module.grpc_services, "127.0.0.1:0", TOKENS)
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    contacts_channel = grpc.insecure_channel(f"127.0.0.1:{contacts_server.port}")

    def stop() -> None:
        channel.close()
        contacts_channel.close()
        server.stop(0)
        contacts_server.stop(0)
        module.database.dispose()
        contacts.database.dispose()

    return RunningSales(module, sales_db, channel, contacts_channel), stop
