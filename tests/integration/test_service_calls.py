"""Service-to-service calls carry the identity they act for and a deadline."""

from __future__ import annotations

import grpc
import pytest
from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc

from crmkit.config import Settings
from crmkit.errors import Unauthenticated
from crmkit.grpcclient import service_channel
from crmkit.grpcserver import start_server
from crmkit.tokens import InternalTokens, Principal, acting_as, caller_token
from services.contacts.module import build

TOKENS = InternalTokens("s" * 40)
TENANT_A = Principal("TENANT_A", "service:sales", frozenset({"contacts:read", "contacts:write"}))
TENANT_B = Principal("TENANT_B", "service:sales", frozenset({"contacts:read", "contacts:write"}))
ECHO = "/crmtest.Echo/CallerToken"


def echo_caller_token(_request: bytes, _context: grpc.ServicerContext) -> bytes:
    return caller_token().encode()


@pytest.fixture
def contacts(migrated):
    database = migrated("contacts")
    module = build(Settings.from_env({"CRM_CONTACTS_DATABASE_URL": database.url}))
    echo = grpc.method_handlers_generic_handler(
        "crmtest.Echo", {"CallerToken": grpc.unary_unary_rpc_method_handler(echo_caller_token)}
    )
    registrations = [*module.registrations, (lambda _servicer, server: server.add_generic_rpc_handlers((echo,)), None)]
    server = start_server("contacts", registrations, module.grpc_services, "127.0.0.1:0", TOKENS)
    channel = service_channel(f"127.0.0.1:{server.port}", deadline_seconds=5)
    yield channel
    channel.close()
    server.stop(0)
    module.database.dispose()


def test_background_work_acts_for_one_tenant_and_sees_only_its_data(contacts):
    stub = contacts_pb2_grpc.ContactsServiceStub(contacts)
    with acting_as(TOKENS, TENANT_A):
        created = stub.CreateContact(contacts_pb2.CreateContactRequest(contact=contacts_pb2.Contact(given_name="Ada")))
    with acting_as(TOKENS, TENANT_B), pytest.raises(grpc.RpcError) as caught:
        stub.GetContact(contacts_pb2.GetContactRequest(id=created.id))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_served_call_exposes_the_callers_token_for_forwarding(contacts):
    echo = contacts.unary_unary(ECHO)
    with acting_as(TOKENS, TENANT_A):
        sent = caller_token()
        assert echo(b"") == sent.encode(), "the server bound exactly the token the caller sent"


def test_a_call_without_an_identity_fails_before_leaving_the_process(contacts):
    stub = contacts_pb2_grpc.ContactsServiceStub(contacts)
    with pytest.raises(Unauthenticated):
        stub.ListContacts(contacts_pb2.ListContactsRequest())
