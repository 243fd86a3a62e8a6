"""HTTP-API connections (docs/adr/0057): their settings and sealed credentials over gRPC on
PostgreSQL, and the one HTTP client connectors share — retries honouring 429/Retry-After, the
per-connection request budget, and OAuth 2.0 tokens refreshed and sealed again — against a real
local HTTP server."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import urllib.parse
from collections.abc import Iterator

import grpc
import pytest
import sqlalchemy as sa
from crm.integrations.v1 import connections_pb2
from google.protobuf import field_mask_pb2

from crmkit.retry import RetryPolicy
from services.integrations.connectors.http import ApiError, HttpApi
from services.integrations.store import ConnectionRow
from tests.integration.support_helpers import as_, code_of, violations
from tests.integration.test_integrations_email import ADMIN_A, ADMIN_B, Integrations, integrations  # noqa: F401
from tests.simulators.base import JsonServer, Reply, Request

Conn = connections_pb2.Connection
Create = connections_pb2.CreateConnectionRequest


class TokenAndApi(JsonServer):
    """An OAuth 2.0 token endpoint (refresh_token grant, rotating refresh tokens) and one API route
    that wants the current access token."""

    def __init__(self) -> None:
        super().__init__()
        self.issued = 0
        self.refresh_token = "refresh-0"
        self.access_token = ""

    def handle(self, request: Request) -> Reply:
        if request.path == "/token":
            form = dict(urllib.parse.parse_qsl(request.body.decode()))
            client = base64.b64decode(request.headers["authorization"].split()[1]).decode()
            if client != "client-1:client-secret-9c1" or form.get("grant_type") != "refresh_token":
                return Reply(401, {"error": "invalid_client"})
            if form.get("refresh_token") != self.refresh_token:
                return Reply(400, {"error": "invalid_grant"})
            self.issued += 1
            self.access_token, self.refresh_token = f"access-{self.issued}", f"refresh-{self.issued}"
            body = {"access_token": self.access_token, "refresh_token": self.refresh_token, "expires_in": 3600}
            return Reply(200, {**body, "token_type": "bearer"})
        if request.headers.get("authorization") != f"Bearer {self.access_token}":
            return Reply(401, {"fault": "AuthenticationFailed"})
        return Reply(200, {"company": "Acme"})


@pytest.fixture
def remote() -> Iterator[TokenAndApi]:
    server = TokenAndApi().start()
    yield server
    server.stop()


def odoo(**overrides: object) -> Conn:
    fields: dict[str, object] = {
        "type": Conn.ODOO,
        "display_name": "Odoo",
        "base_url": "https://acme.odoo.com/",
        "database": "acme",
        "username": "admin@acme.example.com",
        "api_key": "odoo-key-5e1f",
    }
    return Conn(**{**fields, **overrides})  # type: ignore[arg-type]


def quickbooks(remote: TokenAndApi, **overrides: object) -> Conn:
    fields: dict[str, object] = {
        "type": Conn.QUICKBOOKS,
        "display_name": "Books",
        "base_url": remote.url,
        "realm_id": "9130",
        "oauth2": connections_pb2.OAuth2(
            client_id="client-1",
            client_secret="client-secret-9c1",
            refresh_token="refresh-0",
            token_url=remote.url + "/token",
        ),
    }
    return Conn(**{**fields, **overrides})  # type: ignore[arg-type]


def test_http_connections_keep_settings_and_seal_every_secret(integrations: Integrations) -> None:  # noqa: F811
    stub = integrations.connections
    created = stub.CreateConnection(Create(connection=odoo()), metadata=as_(ADMIN_A))
    assert created.base_url == "https://acme.odoo.com" and created.database == "acme"
    assert created.has_api_key and not created.has_password and created.api_key == "" and created.key_id
    fetched = stub.GetConnection(connections_pb2.GetConnectionRequest(id=created.id), metadata=as_(ADMIN_A))
    assert b"odoo-key-5e1f" not in fetched.SerializeToString() + created.SerializeToString()
    with integrations.database.transaction() as session:
        sealed, config = session.execute(sa.select(ConnectionRow.sealed_secret, ConnectionRow.config)).one()
    assert "odoo-key-5e1f" not in sealed + str(config)
    opened = integrations_connections(integrations).credentials("TENANT_A", created.id)
    assert opened.secrets.api_key == "odoo-key-5e1f" and "odoo-key" not in repr(opened)

    def bad(connection: Conn) -> set[str]:
        return violations(lambda: stub.CreateConnection(Create(connection=connection), metadata=as_(ADMIN_A)))

    assert bad(odoo(database="", api_key="", base_url="ftp://x")) == {"database", "api_key", "base_url"}
    assert bad(odoo(password="p", base_url="https://user:pw@acme.odoo.com")) == {"password", "base_url"}
    no_secret = Conn(type=Conn.QUICKBOOKS, display_name="Q", oauth2=connections_pb2.OAuth2(client_id="c"))
    assert bad(no_secret) == {"realm_id", "oauth2.client_secret", "oauth2.refresh_token"}
    mapping = connections_pb2.FieldMapping(stream="res.partner", external_field="bad field", crm_field="x.y")
    assert bad(odoo(field_mappings=[mapping])) == {"field_mappings[0].external_field", "field_mappings[0].crm_field"}
    assert bad(odoo(requests_per_minute=-1)) == {"requests_per_minute"}
    listed = stub.ListConnections(connections_pb2.ListConnectionsRequest(), metadata=as_(ADMIN_A))
    assert [c.id for c in listed.connections] == [created.id]  # nothing half-written by the refusals


def integrations_connections(running: Integrations):  # type: ignore[no-untyped-def]
    servicer = next(s for add, s in running.module.registrations if "Connections" in add.__name__)
    return servicer.connections


def test_oauth2_tokens_are_refreshed_when_due_and_sealed_again(
    integrations: Integrations,  # noqa: F811
    remote: TokenAndApi,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    created = integrations.connections.CreateConnection(Create(connection=quickbooks(remote)), metadata=as_(ADMIN_A))
    assert created.oauth2.has_refresh_token and created.oauth2.has_client_secret and not created.oauth2.has_access_token
    connections = integrations_connections(integrations)
    api = HttpApi(connections, sleep=lambda s: None)
    credentials = connections.credentials("TENANT_A", created.id)

    assert api.request(credentials, "GET", remote.url + "/v3/company/9130", oauth2=True).body == {"company": "Acme"}
    assert remote.issued == 1
    stored = connections.credentials("TENANT_A", created.id)
    assert stored.secrets.access_token == "access-1" and stored.secrets.refresh_token == "refresh-1"  # rotated
    expires = stored.connection.data.access_token_expire_time
    assert expires is not None and expires > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=50)
    # A stale copy of the credentials does not refresh again: the stored token is still good.
    api.request(credentials, "GET", remote.url + "/v3/company/9130", oauth2=True)
    assert remote.issued == 1

    remote.access_token = "revoked"  # the vendor dropped the token early: one refresh, then success
    api.request(stored, "GET", remote.url + "/v3/company/9130", oauth2=True)
    assert remote.issued == 2
    with integrations.database.transaction() as session:
        sealed, config = session.execute(sa.select(ConnectionRow.sealed_secret, ConnectionRow.config)).one()
    for secret in ("access-2", "refresh-2", "client-secret-9c1"):
        assert secret not in sealed + str(config) + caplog.text
    fetched = integrations.connections.GetConnection(
        connections_pb2.GetConnectionRequest(id=created.id), metadata=as_(ADMIN_A)
    )
    assert fetched.oauth2.has_access_token and fetched.oauth2.access_token_expire_time.seconds > 0
    assert b"access-2" not in fetched.SerializeToString()


def test_the_client_honours_retry_after_gives_up_on_errors_and_keeps_the_budget(
    integrations: Integrations,  # noqa: F811
    remote: TokenAndApi,
) -> None:
    created = integrations.connections.CreateConnection(
        Create(connection=quickbooks(remote, requests_per_minute=20)), metadata=as_(ADMIN_A)
    )
    connections = integrations_connections(integrations)
    slept: list[float] = []
    api = HttpApi(connections, policy=RetryPolicy(max_attempts=3, rng=lambda: 0.5), sleep=slept.append)
    credentials = connections.credentials("TENANT_A", created.id)
    api.request(credentials, "GET", remote.url + "/v3/company/9130", oauth2=True)  # spends the burst of 2
    slept.clear()

    remote.fail_next("/v3/", Reply(429, {"Fault": {"type": "ThrottleExceeded"}}, {"Retry-After": "7"}))
    assert api.request(credentials, "GET", remote.url + "/v3/company/9130", oauth2=True).status == 200
    assert 7 in slept  # Retry-After is the floor of the wait, not the jittered back-off (0.25 s)
    # The 429 drained the budget: the retry waited for a refill first (20 a minute: 3.3 s a token).
    assert any(2.5 < s < 7 for s in slept), slept

    remote.fail_next("/v3/", Reply(500, {"Fault": {"type": "SystemFault"}}), times=3)
    with pytest.raises(ApiError) as failed:
        api.request(credentials, "GET", remote.url + "/v3/company/9130", oauth2=True)
    assert failed.value.status == 500 and failed.value.retried == 2 and "SystemFault" in str(failed.value)

    remote.fail_next("/v3/", Reply(400, {"Fault": {"type": "ValidationFault"}}))
    with pytest.raises(ApiError) as refused:
        api.request(credentials, "GET", remote.url + "/v3/company/9130", oauth2=True)
    assert refused.value.status == 400 and refused.value.retried == 0  # a 400 is not retried


def test_a_connection_is_updated_in_place_its_key_rotated_and_its_mappings_changed(
    integrations: Integrations,  # noqa: F811
) -> None:
    stub = integrations.connections
    created = stub.CreateConnection(Create(connection=odoo()), metadata=as_(ADMIN_A))
    connections = integrations_connections(integrations)

    def update(connection: Conn, *paths: str) -> connections_pb2.Connection:
        request = connections_pb2.UpdateConnectionRequest(
            id=created.id, connection=connection, update_mask=field_mask_pb2.FieldMask(paths=list(paths))
        )
        return stub.UpdateConnection(request, metadata=as_(ADMIN_A))

    rotated = update(Conn(api_key="odoo-key-new-9"), "api_key")
    assert rotated.has_api_key and rotated.database == "acme" and b"odoo-key-new-9" not in rotated.SerializeToString()
    assert connections.credentials("TENANT_A", created.id).secrets.api_key == "odoo-key-new-9"

    mapping = connections_pb2.FieldMapping(stream="res.partner", external_field="ref", crm_field="customFields.ref")
    renamed = update(Conn(display_name="Odoo (prod)", field_mappings=[mapping]))  # no mask: what is given
    assert renamed.display_name == "Odoo (prod)" and [m.external_field for m in renamed.field_mappings] == ["ref"]
    assert renamed.field_mappings[0].direction == connections_pb2.FieldMapping.BOTH
    assert connections.credentials("TENANT_A", created.id).secrets.api_key == "odoo-key-new-9"  # kept

    def refused(connection: Conn, *paths: str) -> set[str]:
        return violations(lambda: update(connection, *paths))

    assert refused(Conn(type=Conn.XERO), "type") == {"update_mask"}
    assert refused(Conn(), "nonsense") == {"update_mask"}
    assert refused(Conn(), "api_key") == {"api_key"}  # clearing a required secret
    assert refused(Conn(base_url="gopher://x"), "base_url") == {"base_url"}
    fetched = stub.GetConnection(connections_pb2.GetConnectionRequest(id=created.id), metadata=as_(ADMIN_A))
    assert fetched.base_url == "https://acme.odoo.com" and fetched.has_api_key  # nothing half-written
    other = connections_pb2.UpdateConnectionRequest(id=created.id, connection=Conn(display_name="x"))
    assert code_of(lambda: stub.UpdateConnection(other, metadata=as_(ADMIN_B))) == grpc.StatusCode.NOT_FOUND
