"""Data-subject requests across contacts, integrations, marketing, sales and support on real PostgreSQL: an
export gathers every service's section; an erasure completes only when every service confirmed,
after which no table of any service's database holds the person's name, email or phone."""

from __future__ import annotations

import datetime as dt
import json

import grpc
import pytest
import sqlalchemy as sa
from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc, privacy_pb2, privacy_pb2_grpc
from crm.integrations.v1 import (
    connections_pb2,
    connections_pb2_grpc,
    email_pb2,
    email_pb2_grpc,
    webhooks_pb2,
    webhooks_pb2_grpc,
)
from crm.sales.v1 import leads_pb2, leads_pb2_grpc
from crm.support.v1 import tickets_pb2, tickets_pb2_grpc
from google.protobuf import json_format

from crmkit.db import utcnow
from crmkit.events.outbox import Outbox
from crmkit.tokens import Principal
from services.contacts.privacy import PrivacyRequests
from services.contacts.store import OUTBOX
from tests.integration.privacy_helpers import HandRelay, find_personal_data
from tests.integration.sales_helpers import TOKENS, run_service
from tests.mailservers import Certificate, SmtpServer, self_signed, smtp_connection

SCOPES = frozenset(
    {"contacts:read", "contacts:write", "contacts:privacy", "sales:read", "sales:write", "support:read"}
    | {"support:write", "integrations:read", "integrations:write", "webhooks:read", "webhooks:write"}
)
ADMIN_A = Principal("TENANT_A", "apikey:dpo", SCOPES)
ADMIN_B = Principal("TENANT_B", "apikey:other", SCOPES)
NO_PRIVACY = Principal("TENANT_A", "apikey:clerk", SCOPES - {"contacts:privacy"})
GIVEN, FAMILY = "Zenobia", "Quarrington"
EMAIL, PHONE = "zenobia.quarrington@example.org", "+14155550123"
PERSON = (GIVEN, FAMILY, EMAIL, PHONE)
Request = privacy_pb2.PrivacyRequest


def as_(principal: Principal) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {TOKENS.mint(principal)}")]


SERVICES = ("contacts", "integrations", "marketing", "sales", "support")


@pytest.fixture(scope="module")
def certificate() -> Certificate:
    return self_signed()


@pytest.fixture
def smtp(certificate, tmp_path):
    server = SmtpServer(certificate).start(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def suite(migrated):
    running, stops = {}, []
    for name in SERVICES:
        service, stop = run_service(name, migrated(name), CRM_WEBHOOKS_ALLOW_LOOPBACK="true")
        running[name] = service
        stops.append(stop)
    yield running
    for stop in stops:
        stop()


@pytest.fixture
def relay(suite):
    return HandRelay([service.module for service in suite.values()])


def seed_person(suite, relay, smtp=None, certificate=None) -> str:
    integrations = suite["integrations"]
    hooks = integrations.stub(webhooks_pb2_grpc.WebhooksServiceStub)
    hook = webhooks_pb2.Webhook(url="http://127.0.0.1:9/crm", event_types=["contact.created"])
    hooks.CreateWebhook(webhooks_pb2.CreateWebhookRequest(webhook=hook), metadata=as_(ADMIN_A))
    if smtp is not None:  # a message sent to the person, and one to someone else naming them
        connections = integrations.stub(connections_pb2_grpc.ConnectionsServiceStub)
        connection = smtp_connection(smtp, certificate, smtp.password)
        connections.CreateConnection(
            connections_pb2.CreateConnectionRequest(connection=connection), metadata=as_(ADMIN_A)
        )
        mail = integrations.stub(email_pb2_grpc.EmailServiceStub)
        for key, to, subject in (
            ("to-person", EMAIL, "Your refund"),
            ("about-person", "accounts@acme.example.com", f"Refund for {GIVEN} {FAMILY}"),
        ):
            request = email_pb2.SendEmailRequest(
                idempotency_key=key, to_addresses=[to], subject=subject, text_body=f"Call {PHONE}.", origin="support"
            )
            assert mail.SendEmail(request, metadata=as_(ADMIN_A)).status == email_pb2.EmailDelivery.SENT
    contacts = suite["contacts"].stub(contacts_pb2_grpc.ContactsServiceStub)
    contact = contacts.CreateContact(
        contacts_pb2.CreateContactRequest(
            contact=contacts_pb2.Contact(given_name=GIVEN, family_name=FAMILY, email=EMAIL, phone=PHONE)
        ),
        metadata=as_(ADMIN_A),
    )
    other = contacts.CreateContact(
        contacts_pb2.CreateContactRequest(contact=contacts_pb2.Contact(given_name="Otto", email="otto@example.org")),
        metadata=as_(ADMIN_A),
    )
    leads = suite["sales"].stub(leads_pb2_grpc.LeadsServiceStub)
    leads.CreateLead(
        leads_pb2.CreateLeadRequest(
            lead=leads_pb2.Lead(given_name=GIVEN, family_name=FAMILY, email=EMAIL, phone=PHONE, company="Acme")
        ),
        metadata=as_(ADMIN_A),
    )
    tickets = suite["support"].stub(tickets_pb2_grpc.TicketsServiceStub)
    ticket = tickets.CreateTicket(
        tickets_pb2.CreateTicketRequest(
            ticket=tickets_pb2.Ticket(
                subject=f"Refund for {GIVEN} {FAMILY}",
                description=f"Write to {EMAIL} or call {PHONE}. Order 4711.",
                requester_id=contact.id,
            )
        ),
        metadata=as_(ADMIN_A),
    )
    tickets.AddComment(
        tickets_pb2.AddCommentRequest(
            ticket_id=ticket.id,
            comment=tickets_pb2.Comment(
                body=f"Thanks, this is {GIVEN}; my number is {PHONE}.",
                author_type=tickets_pb2.Comment.REQUESTER,
                author_id=contact.id,
            ),
        ),
        metadata=as_(ADMIN_A),
    )
    relay.deliver()  # the marketing projection learns the contacts
    assert other.id
    return contact.id


def get(suite, request_id: str, principal: Principal = ADMIN_A) -> privacy_pb2.PrivacyRequest:
    stub = suite["contacts"].stub(privacy_pb2_grpc.PrivacyRequestsServiceStub)
    return stub.GetPrivacyRequest(privacy_pb2.GetPrivacyRequestRequest(id=request_id), metadata=as_(principal))


def done(request: privacy_pb2.PrivacyRequest) -> dict[str, bool]:
    return {p.service: p.done for p in request.services}


def test_export_gathers_each_service_section_and_erasure_leaves_no_personal_data_anywhere(
    suite, relay, smtp, certificate
):
    contact_id = seed_person(suite, relay, smtp, certificate)
    assert [r.rcpt_tos for r in smtp.received] == [[EMAIL], ["accounts@acme.example.com"]]
    privacy = suite["contacts"].stub(privacy_pb2_grpc.PrivacyRequestsServiceStub)
    every = {name: service.database for name, service in suite.items()}
    before = {name: find_personal_data(db, PERSON) for name, db in every.items()}
    assert all(before.values()), before  # the scan finds the person in every service first

    export = privacy.ExportContactData(privacy_pb2.ExportContactDataRequest(id=contact_id), metadata=as_(ADMIN_A))
    assert export.state == Request.PENDING and export.kind == Request.EXPORT
    assert done(export) == {"contacts": True, "integrations": False, "marketing": False, "sales": False} | {
        "support": False
    }
    relay.deliver()
    exported = get(suite, export.id)
    assert exported.state == Request.COMPLETED and exported.HasField("complete_time")
    document = json_format.MessageToDict(exported.document)
    assert set(document) == set(SERVICES)
    assert document["contacts"]["contact"]["email"] == EMAIL
    held = document["integrations"]
    assert [(d["to_addresses"], d["subject"]) for d in held["emailDeliveries"]] == [([EMAIL], "Your refund")]
    assert [d["payload"]["data"]["email"] for d in held["webhookDeliveries"]] == [EMAIL]
    assert [m["email"] for m in document["marketing"]["audienceMembers"]] == [EMAIL]
    assert [(lead["email"], lead["phone"]) for lead in document["sales"]["leads"]] == [(EMAIL, PHONE)]
    assert EMAIL in document["support"]["tickets"][0]["description"]
    assert GIVEN in document["support"]["comments"][0]["body"]
    assert suite["contacts"].events(export.id) == []  # the identifiers left contacts' outbox on completion

    erasure = privacy.EraseContact(privacy_pb2.EraseContactRequest(id=contact_id), metadata=as_(ADMIN_A))
    assert erasure.state == Request.PENDING and erasure.kind == Request.ERASURE
    relay.deliver(to={"contacts", "integrations", "marketing", "sales"})  # support has not answered yet
    waiting = get(suite, erasure.id)
    assert waiting.state == Request.PENDING and not waiting.HasField("complete_time")
    assert done(waiting) == {"contacts": True, "integrations": True, "marketing": True, "sales": True} | {
        "support": False
    }
    assert find_personal_data(every["support"], PERSON)  # support still holds the person

    relay.deliver()
    erased = get(suite, erasure.id)
    assert erased.state == Request.COMPLETED
    counts = {p.service: dict(p.counts) for p in erased.services}
    assert counts["contacts"]["contacts"] == 1 and counts["sales"]["leads"] == 1
    assert counts["marketing"]["audienceMembers"] == 1
    assert counts["integrations"]["emailDeliveries"] == 2 and counts["integrations"]["webhookDeliveries"] == 1
    assert counts["support"]["tickets"] == 1 and counts["support"]["comments"] == 1
    assert len(erased.document.fields) == 0

    # The test the issue asks for: no column of any table of any service holds the name, email or phone.
    after = {name: find_personal_data(db, PERSON) for name, db in every.items()}
    assert after == {name: [] for name in SERVICES}
    # The ticket is a business record: it stays, pseudonymised.
    tickets = suite["support"].stub(tickets_pb2_grpc.TicketsServiceStub)
    kept = tickets.ListTickets(tickets_pb2.ListTicketsRequest(), metadata=as_(ADMIN_A)).tickets
    assert [(t.subject, t.requester_id) for t in kept] == [("Refund for [erased]", contact_id)]
    assert "Order 4711" in kept[0].description
    # The other person is untouched, and the earlier export no longer carries the document.
    assert find_personal_data(every["contacts"], ["otto@example.org"])
    assert json.loads(json_format.MessageToJson(get(suite, export.id).document)) == {}


def test_privacy_requests_need_the_scope_and_stay_within_the_tenant(suite, relay):
    contact_id = seed_person(suite, relay)
    privacy = suite["contacts"].stub(privacy_pb2_grpc.PrivacyRequestsServiceStub)
    for principal, code in ((NO_PRIVACY, grpc.StatusCode.PERMISSION_DENIED), (ADMIN_B, grpc.StatusCode.NOT_FOUND)):
        with pytest.raises(grpc.RpcError) as refused:
            privacy.EraseContact(privacy_pb2.EraseContactRequest(id=contact_id), metadata=as_(principal))
        assert refused.value.code() == code
    export = privacy.ExportContactData(privacy_pb2.ExportContactDataRequest(id=contact_id), metadata=as_(ADMIN_A))
    with pytest.raises(grpc.RpcError) as hidden:
        get(suite, export.id, ADMIN_B)
    assert hidden.value.code() == grpc.StatusCode.NOT_FOUND
    # An answer delivered twice counts once (the inbox), and a request completes exactly once.
    relay.deliver()
    first = get(suite, export.id)
    module = suite["contacts"].module
    consumer = module.consumers[0]
    assert module.outbox is not None
    answers = [e for s in ("marketing", "sales") for e in suite[s].events(export.id)]
    assert answers and all(consumer.handle(e.SerializeToString(), 0).verdict.value == "ack" for e in answers)
    assert get(suite, export.id) == first


def test_a_request_a_service_never_received_is_published_again_and_completes(suite, relay):
    """The broker lost the erasure request on its way to support (the relay had marked it sent):
    after CRM_PRIVACY_REASK_SECONDS contacts publishes the same message again; the services that
    handled it ignore it (inbox), support does its part, and the request completes."""
    contact_id = seed_person(suite, relay)
    privacy = suite["contacts"].stub(privacy_pb2_grpc.PrivacyRequestsServiceStub)
    erasure = privacy.EraseContact(privacy_pb2.EraseContactRequest(id=contact_id), metadata=as_(ADMIN_A))
    relay.deliver(to={"contacts", "integrations", "marketing", "sales"})
    contacts_db = suite["contacts"].database
    with contacts_db.transaction() as session:  # published, and lost on the way to support
        session.execute(sa.update(OUTBOX).where(OUTBOX.c.subject == erasure.id).values(sent_at=utcnow()))
    relay.deliver()
    assert get(suite, erasure.id).state == Request.PENDING
    assert find_personal_data(suite["support"].database, PERSON)

    outbox = Outbox("contacts", OUTBOX)
    now = PrivacyRequests(contacts_db, outbox)
    assert now.reask(dt.timedelta(hours=1)) == 0  # not yet overdue
    later = PrivacyRequests(contacts_db, outbox, clock=lambda: utcnow() + dt.timedelta(hours=2))
    assert later.reask(dt.timedelta(hours=1)) == 1
    assert later.reask(dt.timedelta(hours=1)) == 0  # asked just now: not again at once
    relay.deliver()
    erased = get(suite, erasure.id)
    assert erased.state == Request.COMPLETED and all(p.done for p in erased.services)
    assert find_personal_data(suite["support"].database, PERSON) == []
    assert later.reask(dt.timedelta(seconds=0)) == 0  # completed requests are never asked again
