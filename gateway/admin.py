"""The gateway's own methods (crm.gateway.v1): served in process, reached through the same routes,
checks and JSON mapping as the services' methods. Each handler takes the request message and the
caller and returns the response message; domain errors are ServiceErrors as everywhere."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from crm.gateway.v1 import gateway_pb2 as pb
from google.protobuf import timestamp_pb2
from google.protobuf.message import Message

from crmkit.tokens import Principal
from gateway.audit import AuditLog
from gateway.oauth import OAuthClients
from gateway.store import ApiKeyRow, AuditEntryRow, OAuthClientRow
from gateway.tenancy import Grants, Tenancy

Handler = Callable[[Any, Principal], Message]


def _time(value: dt.datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def api_key_message(row: ApiKeyRow) -> pb.ApiKey:
    return pb.ApiKey(
        id=row.id,
        display_name=row.name,
        roles=list(row.roles or []),
        scopes=list(row.scopes),
        prefix=row.prefix,
        create_time=_time(row.create_time),
        last_use_time=_time(row.last_use_time),
        revoke_time=_time(row.revoke_time),
    )


def oauth_client_message(row: OAuthClientRow) -> pb.OAuthClient:
    return pb.OAuthClient(
        id=row.id,
        client_id=row.client_id,
        display_name=row.name,
        roles=list(row.roles),
        scopes=list(row.scopes),
        create_time=_time(row.create_time),
        last_use_time=_time(row.last_use_time),
        revoke_time=_time(row.revoke_time),
    )


def credentials_handlers(tenancy: Tenancy, clients: OAuthClients) -> dict[str, Handler]:
    service = "/crm.gateway.v1.CredentialsService/"

    def create_api_key(request: pb.CreateApiKeyRequest, caller: Principal) -> pb.CreatedApiKey:
        given = request.api_key
        grants = Grants.checked(given.display_name, list(given.roles), list(given.scopes), "api_key.")
        row, secret = tenancy.create_key(caller.tenant_id, grants)
        return pb.CreatedApiKey(api_key=api_key_message(row), secret=secret)

    def list_api_keys(request: pb.ListApiKeysRequest, caller: Principal) -> pb.ListApiKeysResponse:
        rows, token = tenancy.list_keys(caller.tenant_id, request.page_size, request.page_token)
        return pb.ListApiKeysResponse(api_keys=[api_key_message(r) for r in rows], next_page_token=token)

    def revoke_api_key(request: pb.RevokeApiKeyRequest, caller: Principal) -> pb.ApiKey:
        return api_key_message(tenancy.revoke_key(caller.tenant_id, request.id))

    def create_oauth_client(request: pb.CreateOAuthClientRequest, caller: Principal) -> pb.CreatedOAuthClient:
        given = request.oauth_client
        grants = Grants.checked(given.display_name, list(given.roles), list(given.scopes), "oauth_client.")
        row, secret = clients.create(caller.tenant_id, grants)
        return pb.CreatedOAuthClient(oauth_client=oauth_client_message(row), client_secret=secret)

    def list_oauth_clients(request: pb.ListOAuthClientsRequest, caller: Principal) -> pb.ListOAuthClientsResponse:
        rows, token = clients.list(caller.tenant_id, request.page_size, request.page_token)
        return pb.ListOAuthClientsResponse(oauth_clients=[oauth_client_message(r) for r in rows], next_page_token=token)

    def revoke_oauth_client(request: pb.RevokeOAuthClientRequest, caller: Principal) -> pb.OAuthClient:
        return oauth_client_message(clients.revoke(caller.tenant_id, request.id))

    return {
        service + "CreateApiKey": create_api_key,
        service + "ListApiKeys": list_api_keys,
        service + "RevokeApiKey": revoke_api_key,
        service + "CreateOAuthClient": create_oauth_client,
        service + "ListOAuthClients": list_oauth_clients,
        service + "RevokeOAuthClient": revoke_oauth_client,
    }


def audit_entry_message(row: AuditEntryRow) -> pb.AuditEntry:
    return pb.AuditEntry(
        sequence=row.sequence,
        time=_time(row.time),
        request_id=row.request_id,
        principal=row.principal,
        http_method=row.http_method,
        operation=row.operation,
        resource_template=row.resource_template,
        resource_path=row.resource_path,
        resource_id=row.resource_id,
        status=row.status,
        previous_hash=row.previous_hash,
        hash=row.hash,
    )


def audit_handlers(audit: AuditLog) -> dict[str, Handler]:
    def list_audit_entries(request: pb.ListAuditEntriesRequest, caller: Principal) -> pb.ListAuditEntriesResponse:
        start = request.start_time.ToDatetime(dt.UTC) if request.HasField("start_time") else None
        end = request.end_time.ToDatetime(dt.UTC) if request.HasField("end_time") else None
        rows, token = audit.list(caller.tenant_id, request.page_size, request.page_token, start, end)
        return pb.ListAuditEntriesResponse(audit_entries=[audit_entry_message(r) for r in rows], next_page_token=token)

    return {"/crm.gateway.v1.AuditService/ListAuditEntries": list_audit_entries}
