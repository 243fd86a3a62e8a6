"""A slow or failing service never hangs the gateway or turns into a 500: deadlines, 503/504 in the
error shape with Retry-After, and reads (only reads) retried on UNAVAILABLE.

The services here are stand-ins served by the test on 127.0.0.1, so that a test can decide how a
backend misbehaves; the gateway is the real one under gunicorn."""

from __future__ import annotations

import threading
from concurrent import futures

import grpc
import pytest
from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc

from tests.e2e.support import Api, free_port


class MisbehavingContacts(contacts_pb2_grpc.ContactsServiceServicer):
    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.release = threading.Event()
        self.lock = threading.Lock()

    def _count(self, name: str) -> int:
        with self.lock:
            self.calls[name] = self.calls.get(name, 0) + 1
            return self.calls[name]

    def GetContact(self, request, context):  # the first attempt finds the service unavailable
        if self._count("GetContact") == 1:
            context.abort(grpc.StatusCode.UNAVAILABLE, "connection reset by peer ipv4:10.1.2.3:50051")
        return contacts_pb2.Contact(id=request.id, given_name="Ada")

    def CreateContact(self, request, context):
        self._count("CreateContact")
        context.abort(grpc.StatusCode.UNAVAILABLE, "overloaded")

    def UpdateContact(self, request, context):  # hangs until the test ends
        self._count("UpdateContact")
        self.release.wait(30)
        return contacts_pb2.Contact(id=request.id)

    def DeleteContact(self, request, context):
        self._count("DeleteContact")
        context.abort(grpc.StatusCode.DATA_LOSS, "disk on fire at /var/lib/postgresql")


@pytest.fixture(scope="module")
def misbehaving(partner):
    servicer = MisbehavingContacts()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    contacts_pb2_grpc.add_ContactsServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port(f"127.0.0.1:{free_port()}")
    server.start()
    dead_port = free_port()  # nothing listens here
    base = partner.start_gateway(
        "gateway-resilience",
        {
            "CRM_CONTACTS_ADDR": f"127.0.0.1:{port}",
            "CRM_MARKETING_ADDR": f"127.0.0.1:{dead_port}",
            "CRM_GRPC_DEADLINE_SECONDS": "0.5",
        },
    )
    yield servicer, base
    servicer.release.set()
    server.stop(0)
    partner.stop("gateway-resilience")


def test_a_read_is_retried_once_the_service_answers_again(misbehaving, acme):
    servicer, base = misbehaving
    response = Api(base, acme["apiKey"]).get("/v1/contacts/C1")
    assert response.status_code == 200, response.text
    assert response.json()["givenName"] == "Ada"
    assert servicer.calls["GetContact"] == 2


def test_a_write_is_not_retried_and_is_503_with_retry_after(misbehaving, acme):
    servicer, base = misbehaving
    response = Api(base, acme["apiKey"]).post("/v1/contacts", json={"givenName": "Ada"})
    assert response.status_code == 503
    assert response.json()["error"]["status"] == "UNAVAILABLE"
    assert int(response.headers["Retry-After"]) >= 1
    assert servicer.calls["CreateContact"] == 1


def test_a_service_that_does_not_answer_is_504_with_retry_after_not_a_hang(misbehaving, acme):
    servicer, base = misbehaving
    response = Api(base, acme["apiKey"]).patch("/v1/contacts/C1", json={"givenName": "Ada"}, timeout=30)
    assert response.status_code == 504, response.text
    assert response.json()["error"]["status"] == "DEADLINE_EXCEEDED"
    assert int(response.headers["Retry-After"]) >= 1
    assert servicer.calls["UpdateContact"] == 1


def test_a_service_that_is_down_is_503_and_names_no_address(misbehaving, acme):
    _, base = misbehaving
    response = Api(base, acme["apiKey"]).get("/v1/audienceMembers")
    assert response.status_code == 503
    assert response.json()["error"]["status"] == "UNAVAILABLE" and response.headers["Retry-After"]
    assert "127.0.0.1" not in response.text


def test_an_unexpected_service_failure_is_a_plain_500_without_internals(misbehaving, acme):
    _, base = misbehaving
    response = Api(base, acme["apiKey"]).delete("/v1/contacts/C1")
    assert response.status_code == 500
    assert response.json()["error"]["status"] == "INTERNAL"
    assert "/var/lib" not in response.text and "fire" not in response.text
