"""The connections and email APIs over gRPC: proto <-> use cases, nothing else."""

from __future__ import annotations

import datetime as dt

import grpc
from crm.integrations.v1 import connections_pb2, connections_pb2_grpc, email_pb2, email_pb2_grpc
from google.protobuf import empty_pb2, timestamp_pb2

from crmkit.tokens import current_principal
from services.integrations.connections import (
    Connection,
    ConnectionFields,
    Connections,
    DeadLetter,
    FieldMapping,
    Secrets,
    SyncRun,
    SyncState,
)
from services.integrations.email import mime
from services.integrations.email.usecases import Delivery, Emails, SendRequest

Type = connections_pb2.Connection.Type
Security = connections_pb2.Connection.Security
Direction = connections_pb2.FieldMapping.Direction


def _stamp(value: dt.datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def _name(enum: object, value: int) -> str:
    return "" if value == 0 else str(enum.Name(value))  # type: ignore[attr-defined]


def _value(enum: object, name: str) -> int:
    return 0 if not name else int(enum.Value(name))  # type: ignore[attr-defined]


def _oauth2(connection: Connection) -> connections_pb2.OAuth2 | None:
    data, stored = connection.data, connection.stored_secrets
    if not data.client_id and not data.token_url:
        return None
    return connections_pb2.OAuth2(
        client_id=data.client_id,
        token_url=data.token_url,
        access_token_expire_time=_stamp(data.access_token_expire_time),
        has_client_secret="client_secret" in stored,
        has_refresh_token="refresh_token" in stored,
        has_access_token="access_token" in stored,
    )


def connection_to_proto(connection: Connection) -> connections_pb2.Connection:
    data = connection.data
    return connections_pb2.Connection(
        id=connection.id,
        type=_value(Type, data.type),
        display_name=data.display_name,
        host=data.host,
        port=data.port,
        security=_value(Security, data.security),
        username=data.username,
        has_password=connection.has_password,
        from_address=data.from_address,
        mailbox=data.mailbox,
        purpose=data.purpose,
        support_addresses=list(data.support_addresses),
        ca_certificate=data.ca_certificate,
        create_time=_stamp(connection.create_time),
        update_time=_stamp(connection.update_time),
        key_id=connection.key_id,
        base_url=data.base_url,
        database=data.database,
        realm_id=data.realm_id,
        xero_tenant_id=data.xero_tenant_id,
        has_api_key="api_key" in connection.stored_secrets,
        has_webhook_key="webhook_key" in connection.stored_secrets,
        oauth2=_oauth2(connection),
        requests_per_minute=data.requests_per_minute,
        field_mappings=[
            connections_pb2.FieldMapping(
                stream=m.stream,
                external_field=m.external_field,
                crm_field=m.crm_field,
                direction=_value(Direction, m.direction),
            )
            for m in data.field_mappings
        ],
    )


def run_to_proto(run: SyncRun) -> connections_pb2.SyncRun:
    return connections_pb2.SyncRun(
        id=run.id,
        connection_id=run.connection_id,
        status=_value(connections_pb2.SyncRun.Status, run.status),
        trigger=run.trigger,
        fetched_count=run.fetched_count,
        created_count=run.created_count,
        skipped_count=run.skipped_count,
        failed_count=run.failed_count,
        updated_count=run.updated_count,
        error=run.error,
        start_time=_stamp(run.start_time),
        end_time=_stamp(run.end_time),
    )


def letter_to_proto(letter: DeadLetter) -> connections_pb2.DeadLetter:
    return connections_pb2.DeadLetter(
        id=letter.id,
        connection_id=letter.connection_id,
        stream=letter.stream,
        external_id=letter.external_id,
        error=letter.error,
        attempts=letter.attempts,
        create_time=_stamp(letter.create_time),
        update_time=_stamp(letter.update_time),
        resolve_time=_stamp(letter.resolve_time),
    )


def fields_of(c: connections_pb2.Connection) -> ConnectionFields:
    return ConnectionFields(
        type=_name(Type, c.type),
        display_name=c.display_name,
        host=c.host,
        port=c.port,
        security=_name(Security, c.security),
        username=c.username,
        from_address=c.from_address,
        mailbox=c.mailbox,
        purpose=c.purpose,
        support_addresses=tuple(c.support_addresses),
        ca_certificate=c.ca_certificate,
        base_url=c.base_url,
        database=c.database,
        realm_id=c.realm_id,
        xero_tenant_id=c.xero_tenant_id,
        client_id=c.oauth2.client_id,
        token_url=c.oauth2.token_url,
        requests_per_minute=c.requests_per_minute,
        field_mappings=tuple(
            FieldMapping(m.stream, m.external_field, m.crm_field, _name(Direction, m.direction) or "BOTH")
            for m in c.field_mappings
        ),
        access_token_expire_time=(
            c.oauth2.access_token_expire_time.ToDatetime(dt.UTC)
            if c.oauth2.HasField("access_token_expire_time")
            else None
        ),
    )


def secrets_of(c: connections_pb2.Connection) -> Secrets:
    return Secrets(
        password=c.password,
        api_key=c.api_key,
        client_secret=c.oauth2.client_secret,
        refresh_token=c.oauth2.refresh_token,
        access_token=c.oauth2.access_token,
        webhook_key=c.webhook_key,
    )


class ConnectionsServicer(connections_pb2_grpc.ConnectionsServiceServicer):
    def __init__(self, connections: Connections, sync: SyncState) -> None:
        self.connections = connections
        self.sync = sync

    def CreateConnection(
        self, request: connections_pb2.CreateConnectionRequest, context: grpc.ServicerContext
    ) -> connections_pb2.Connection:
        c = request.connection
        created = self.connections.create(current_principal(), fields_of(c), secrets_of(c))
        return connection_to_proto(created)

    def UpdateConnection(
        self, request: connections_pb2.UpdateConnectionRequest, context: grpc.ServicerContext
    ) -> connections_pb2.Connection:
        c = request.connection
        mask = list(request.update_mask.paths)
        updated = self.connections.update(current_principal(), request.id, fields_of(c), secrets_of(c), mask)
        return connection_to_proto(updated)

    def GetConnection(
        self, request: connections_pb2.GetConnectionRequest, context: grpc.ServicerContext
    ) -> connections_pb2.Connection:
        return connection_to_proto(self.connections.get(current_principal(), request.id))

    def ListConnections(
        self, request: connections_pb2.ListConnectionsRequest, context: grpc.ServicerContext
    ) -> connections_pb2.ListConnectionsResponse:
        found, token = self.connections.listed(current_principal(), request.page_size, request.page_token)
        return connections_pb2.ListConnectionsResponse(
            connections=[connection_to_proto(c) for c in found], next_page_token=token
        )

    def DeleteConnection(
        self, request: connections_pb2.DeleteConnectionRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        self.connections.delete(current_principal(), request.id)
        return empty_pb2.Empty()

    def CheckConnection(
        self, request: connections_pb2.CheckConnectionRequest, context: grpc.ServicerContext
    ) -> connections_pb2.CheckConnectionResponse:
        credentials = self.connections.credentials(current_principal().tenant_id, request.id)
        ok, steps = self.sync.connectors.of(credentials.connection.data.type).check(credentials)
        return connections_pb2.CheckConnectionResponse(
            ok=ok, steps=[connections_pb2.CheckStep(name=s.name, ok=s.ok, detail=s.detail) for s in steps]
        )

    def SyncConnection(
        self, request: connections_pb2.SyncConnectionRequest, context: grpc.ServicerContext
    ) -> connections_pb2.SyncRun:
        return run_to_proto(self.sync.sync(current_principal(), request.id, full_refresh=request.full_refresh))

    def ListSyncRuns(
        self, request: connections_pb2.ListSyncRunsRequest, context: grpc.ServicerContext
    ) -> connections_pb2.ListSyncRunsResponse:
        found, token = self.sync.runs(current_principal(), request.connection_id, request.page_size, request.page_token)
        return connections_pb2.ListSyncRunsResponse(sync_runs=[run_to_proto(r) for r in found], next_page_token=token)

    def ListDeadLetters(
        self, request: connections_pb2.ListDeadLettersRequest, context: grpc.ServicerContext
    ) -> connections_pb2.ListDeadLettersResponse:
        found, token = self.sync.dead_letters(
            current_principal(), request.connection_id, request.page_size, request.page_token
        )
        return connections_pb2.ListDeadLettersResponse(
            dead_letters=[letter_to_proto(d) for d in found], next_page_token=token
        )

    def ReplayDeadLetter(
        self, request: connections_pb2.ReplayDeadLetterRequest, context: grpc.ServicerContext
    ) -> connections_pb2.DeadLetter:
        return letter_to_proto(self.sync.replay(current_principal(), request.connection_id, request.id))


def delivery_to_proto(delivery: Delivery) -> email_pb2.EmailDelivery:
    return email_pb2.EmailDelivery(
        id=delivery.id,
        connection_id=delivery.connection_id,
        message_id=delivery.message_id,
        status=_value(email_pb2.EmailDelivery.Status, delivery.status),
        error=delivery.error,
        to_addresses=list(delivery.to_addresses),
        sent_time=_stamp(delivery.sent_time),
    )


class EmailServicer(email_pb2_grpc.EmailServiceServicer):
    def __init__(self, emails: Emails) -> None:
        self.emails = emails

    def SendEmail(self, request: email_pb2.SendEmailRequest, context: grpc.ServicerContext) -> email_pb2.EmailDelivery:
        outgoing = mime.Outgoing(
            from_address=request.from_address,
            to_addresses=tuple(request.to_addresses),
            cc_addresses=tuple(request.cc_addresses),
            subject=request.subject,
            text_body=request.text_body,
            html_body=request.html_body,
            headers=dict(request.headers),
            in_reply_to=request.in_reply_to,
            references=tuple(request.references),
            message_id=request.message_id,
        )
        send = SendRequest(request.idempotency_key, request.connection_id, outgoing, request.origin, request.origin_ref)
        return delivery_to_proto(self.emails.send(current_principal(), send))
