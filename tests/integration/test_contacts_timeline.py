"""The 360° timeline: events of sales, support, marketing and integrations written to their real
outboxes, published by the real relay (RabbitMQ on PostgreSQL, the in-process bus on SQLite),
projected by the contacts.timeline consumer, and read over the gRPC servicer."""

from __future__ import annotations

import datetime as dt
import importlib

import grpc
import pytest
import sqlalchemy as sa
from crm.contacts.v1 import (
    accounts_pb2,
    accounts_pb2_grpc,
    contacts_pb2,
    contacts_pb2_grpc,
    timeline_pb2,
    timeline_pb2_grpc,
)
from crm.integrations.v1 import events_pb2 as integrations
from crm.marketing.v1 import events_pb2 as marketing
from crm.sales.v1 import events_pb2 as sales
from crm.support.v1 import events_pb2 as support
from crm.support.v1 import surveys_pb2, tickets_pb2
from google.protobuf import timestamp_pb2
from google.type import money_pb2

from crmkit.config import Settings
from crmkit.db import Database
from crmkit.events.inprocess import InProcessBus
from crmkit.events.outbox import Outbox
from crmkit.events.rabbitmq import RabbitBus
from crmkit.events.relay import OutboxRelay
from crmkit.events.transport import OutgoingMessage
from crmkit.grpcserver import start_server
from crmkit.migrations import upgrade
from crmkit.tokens import InternalTokens, Principal
from services.contacts import timeline_store
from services.contacts.module import build
from services.contacts.timeline import CONSUMER
from services.contacts.timeline_store import ActivityRow, TimelineEntryRow
from tests.infra import migrations_of
from tests.integration.events_support import RunningConsumer, consumed, wait_until
from tests.integration.support_helpers import code_of, violations

TOKENS = InternalTokens("t" * 40)
SCOPES = frozenset({"contacts:read", "contacts:write"})
ADMIN_A = Principal("TENANT_A", "apikey:a", SCOPES)
ADMIN_B = Principal("TENANT_B", "apikey:b", SCOPES)
PUBLISHERS = ("sales", "support", "marketing", "integrations")


def as_(principal: Principal) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {TOKENS.mint(principal)}")]


def at(hour: int) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(dt.datetime(2026, 11, 1, hour, tzinfo=dt.UTC))
    return stamp


def eur(units: int) -> money_pb2.Money:
    return money_pb2.Money(currency_code="EUR", units=units)


class World:
    """The contacts service and its consumer, and the outboxes and relays of the other services."""

    def __init__(self, contacts: Database, publishers: dict[str, Database], bus) -> None:
        self.contacts_db = contacts
        self.module = build(Settings.from_env({"CRM_CONTACTS_DATABASE_URL": contacts.url}))
        [self.consumer] = [c for c in self.module.consumers if c.name == "contacts.timeline"]
        self.server = start_server(
            "contacts", self.module.registrations, self.module.grpc_services, "127.0.0.1:0", TOKENS
        )
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.server.port}")
        self.contacts = contacts_pb2_grpc.ContactsServiceStub(self.channel)
        self.accounts = accounts_pb2_grpc.AccountsServiceStub(self.channel)
        self.timeline = timeline_pb2_grpc.TimelineServiceStub(self.channel)
        self.bus = bus
        self.publisher = bus.publisher()
        self.publishers = publishers
        bus.declare(self.consumer.subscription)
        self.running = RunningConsumer(bus, self.consumer.subscription, self.consumer.handle_batch)
        self.sent: list[OutgoingMessage] = []

    def close(self) -> None:
        self.running.close()
        if hasattr(self.publisher, "close") and self.publisher is not self.bus:
            self.publisher.close()
        self.channel.close()
        self.server.stop(0)
        self.module.database.dispose()

    def publish(self, source: str, *events: tuple[object, str, str]) -> None:
        """Write events to `source`'s outbox in one transaction and let its relay publish them."""
        database = self.publishers[source]
        table = importlib_store(source).OUTBOX
        with database.transaction() as session:
            envelopes = Outbox(source, table).add_all(session, list(events))  # type: ignore[arg-type]
        self.sent += [OutgoingMessage(e.id, e.type, e.SerializeToString()) for e in envelopes]
        relay = OutboxRelay(database, table, self.publisher, source=source)
        while relay.publish_batch():
            pass

    def wait_processed(self, before: float, count: int) -> None:
        wait_until(lambda: consumed(CONSUMER, "processed") >= before + count, what=f"{count} events projected")

    def entries(self, contact_id: str, principal=ADMIN_A, **request) -> timeline_pb2.ListTimelineResponse:
        message = timeline_pb2.ListContactTimelineRequest(contact_id=contact_id, **request)
        return self.timeline.ListContactTimeline(message, metadata=as_(principal), timeout=5)

    def kinds(self, contact_id: str, **request) -> list[str]:
        return [e.kind for e in self.entries(contact_id, **request).entries]

    def stored_entries(self) -> int:
        with self.contacts_db.transaction() as session:
            return session.execute(sa.select(sa.func.count()).select_from(TimelineEntryRow)).scalar_one()


def importlib_store(service: str):
    return importlib.import_module(f"services.{service}.store")


@pytest.fixture(params=["postgresql", "sqlite"])
def world(request, tmp_path, amqp_url, amqp_prefix):
    if request.param == "postgresql":
        migrated = request.getfixturevalue("migrated")
        contacts = migrated("contacts")
        publishers = {name: migrated(name) for name in PUBLISHERS}
        bus = RabbitBus(amqp_url, amqp_prefix, retry_delays_ms=(50, 100, 200), prefetch=8)
    else:
        databases = {}
        for name in ("contacts", *PUBLISHERS):
            url = f"sqlite:///{tmp_path / f'{name}.db'}"
            upgrade(migrations_of(name), url)
            databases[name] = Database(url)
        contacts = databases.pop("contacts")
        publishers = databases
        bus = InProcessBus(retry_delays_ms=(50, 100, 200))
    world = World(contacts, publishers, bus)
    yield world
    world.close()
    if request.param == "sqlite":
        for database in (contacts, *publishers.values()):
            database.dispose()


def opportunity(contact_id: str, account_id: str, stage: str, category: str, hour: int) -> sales.OpportunitySnapshot:
    snapshot = sales.OpportunitySnapshot(
        id="OPP1",
        name="Acme renewal",
        pipeline_id="P1",
        stage_id=f"S-{stage}",
        stage_name=stage,
        stage_category=category,
        amount=eur(12000),
        contact_id=contact_id,
        account_id=account_id,
        owner_id="user:ann",
    )
    snapshot.update_time.CopyFrom(at(hour))
    return snapshot


def ticket(contact_id: str, status: int, hour: int) -> tickets_pb2.Ticket:
    message = tickets_pb2.Ticket(
        id="TK1", subject="Printer on fire", description="Smoke", requester_id=contact_id, status=status
    )
    message.create_time.CopyFrom(at(2))
    if status == tickets_pb2.Ticket.SOLVED:
        message.solve_time.CopyFrom(at(hour))
    return message


def engagement(contact_id: str, hour: int) -> marketing.Engagement:
    value = marketing.Engagement(
        contact_id=contact_id, email="ada@example.com", campaign_id="CMP1", campaign_name="Winter", message_id="M1"
    )
    value.occur_time.CopyFrom(at(hour))
    return value


def test_every_services_events_land_on_the_timeline_newest_first(world):
    acme = world.accounts.CreateAccount(
        accounts_pb2.CreateAccountRequest(account=accounts_pb2.Account(name="Acme")), metadata=as_(ADMIN_A)
    ).id
    contact = world.contacts.CreateContact(
        contacts_pb2.CreateContactRequest(
            contact=contacts_pb2.Contact(given_name="Ada", email="Ada@Example.com", account_ids=[acme])
        ),
        metadata=as_(ADMIN_A),
    )
    other = world.contacts.CreateContact(
        contacts_pb2.CreateContactRequest(contact=contacts_pb2.Contact(given_name="Bob", email="bob@example.com")),
        metadata=as_(ADMIN_A),
    )
    c, a = contact.id, acme
    inbound = integrations.InboundEmailReceived(
        message_id="mail-1@example.com",
        from_address="ADA@example.com",
        to_addresses=["support@acme.example"],
        cc_addresses=["bob@example.com", "nobody@example.com"],
        subject="Where is my invoice?",
        text_body="Hello,\nplease resend it.",
    )
    inbound.received_time.CopyFrom(at(11))
    survey = support.SurveyAnswered(
        survey_id="SV1", kind=surveys_pb2.Survey.CSAT, ticket_id="TK1", requester_id=c, score=5, comment="Great"
    )
    survey.response_time.CopyFrom(at(6))
    payment = integrations.PaymentReceived(payment_id="PAY1", invoice_id="INV1", contact_id=c, account_id=a)
    payment.amount.CopyFrom(eur(12000))
    payment.paid_time.CopyFrom(at(10))
    quote = sales.QuoteAccepted(quote_id="Q1", quote_number="Q-0001", opportunity_id="OPP1", contact_id=c, account_id=a)
    quote.grand_total.CopyFrom(eur(12000))
    quote.accept_time.CopyFrom(at(8))
    before = consumed(CONSUMER, "processed")
    # Published newest first and interleaved: the timeline sorts by each event's own time.
    world.publish("integrations", (inbound, "TENANT_A", inbound.message_id), (payment, "TENANT_A", "PAY1"))
    won = sales.OpportunityWon(opportunity=opportunity(c, a, "Won", "won", 9), reason="Best fit")
    world.publish("sales", (won, "TENANT_A", "OPP1"), (quote, "TENANT_A", "Q1"))
    world.publish(
        "support",
        (survey, "TENANT_A", "SV1"),
        (
            support.TicketStatusChanged(
                ticket_id="TK1",
                from_status=tickets_pb2.Ticket.OPEN,
                to_status=tickets_pb2.Ticket.SOLVED,
                ticket=ticket(c, tickets_pb2.Ticket.SOLVED, 5),
            ),
            "TENANT_A",
            "TK1",
        ),
        (support.TicketCreated(ticket=ticket(c, tickets_pb2.Ticket.NEW, 2)), "TENANT_A", "TK1"),
        (
            support.TicketStatusChanged(  # not a solve: not on the timeline
                ticket_id="TK1",
                from_status=tickets_pb2.Ticket.NEW,
                to_status=tickets_pb2.Ticket.OPEN,
                ticket=ticket(c, tickets_pb2.Ticket.OPEN, 3),
            ),
            "TENANT_A",
            "TK1",
        ),
    )
    world.publish(
        "marketing",
        (marketing.EmailClicked(engagement=engagement(c, 4), url="https://acme.example/offer"), "TENANT_A", c),
        (marketing.EmailSent(engagement=engagement(c, 3), subject="Winter offer"), "TENANT_A", c),
    )
    world.publish(
        "sales",
        (sales.OpportunityCreated(opportunity=opportunity(c, a, "Qualify", "open", 1)), "TENANT_A", "OPP1"),
        (
            sales.OpportunityStageChanged(
                opportunity=opportunity(c, a, "Propose", "open", 7), from_stage_name="Qualify"
            ),
            "TENANT_A",
            "OPP1",
        ),
        # Another tenant's event about the same contact id files nothing visible to tenant A.
        (sales.OpportunityCreated(opportunity=opportunity(c, a, "Qualify", "open", 12)), "TENANT_B", "OPP9"),
    )
    world.wait_processed(before, 13)

    assert world.kinds(c) == [
        "email.received",
        "payment.received",
        "deal.won",
        "quote.accepted",
        "deal.stage_changed",
        "survey.answered",
        "ticket.solved",
        "email.clicked",
        "email.sent",
        "ticket.opened",
        "deal.opened",
    ]
    entries = {e.kind: e for e in world.entries(c).entries}
    won_entry = entries["deal.won"]
    assert (won_entry.title, won_entry.source, won_entry.source_id, won_entry.account_id) == (
        "Deal won: Acme renewal",
        "sales",
        "OPP1",
        acme,
    )
    assert won_entry.summary == "12000.00 EUR · Best fit"
    assert won_entry.occur_time.ToDatetime(tzinfo=dt.UTC) == dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC)
    assert dict(entries["survey.answered"].attributes) == {"surveyKind": "CSAT", "score": 5, "ticketId": "TK1"}
    assert "token" not in str(entries["survey.answered"]).lower()
    assert entries["email.received"].summary == "Hello, please resend it."
    assert world.kinds(other.id) == ["email.received"], "cc'd contacts get the mail too"

    # Filters: one kind, several kinds, a time range; a bad filter names the field.
    assert world.kinds(c, filter='kind = "deal.won"') == ["deal.won"]
    assert world.kinds(c, filter="kind = deal.won OR kind = deal.lost OR kind = deal.opened") == [
        "deal.won",
        "deal.opened",
    ]
    assert world.kinds(c, filter='source = "support" AND occurTime >= "2026-11-01T03:00:00Z"') == [
        "survey.answered",
        "ticket.solved",
    ]
    assert violations(lambda: world.entries(c, filter="amount > 3")) == {"filter"}

    # The account's timeline: what names the account.
    account = world.timeline.ListAccountTimeline(
        timeline_pb2.ListAccountTimelineRequest(account_id=a), metadata=as_(ADMIN_A)
    )
    assert [e.kind for e in account.entries] == [
        "payment.received",
        "deal.won",
        "quote.accepted",
        "deal.stage_changed",
        "deal.opened",
    ]

    # Keyset pages: every entry once, in the same order.
    seen, token, pages = [], "", 0
    while True:
        page = world.entries(c, page_size=4, page_token=token)
        seen += [e.kind for e in page.entries]
        pages, token = pages + 1, page.next_page_token
        if not token:
            break
    assert pages == 3 and seen == world.kinds(c)
    assert violations(lambda: world.entries(other.id, page_token=world.entries(c, page_size=1).next_page_token)) == {
        "page_token"
    }

    # A redelivered event changes nothing.
    stored, duplicates = world.stored_entries(), consumed(CONSUMER, "duplicate")
    world.publisher.publish(world.sent[:3])
    wait_until(lambda: consumed(CONSUMER, "duplicate") >= duplicates + 3, what="the redeliveries")
    assert world.stored_entries() == stored

    # Another tenant's caller: the contact and the account do not exist.
    assert code_of(lambda: world.entries(c, ADMIN_B)) == grpc.StatusCode.NOT_FOUND
    foreign = timeline_pb2.ListAccountTimelineRequest(account_id=a)
    assert code_of(lambda: world.timeline.ListAccountTimeline(foreign, metadata=as_(ADMIN_B))) == (
        grpc.StatusCode.NOT_FOUND
    )


def test_entries_for_unknown_contacts_are_kept_and_deleted_contacts_get_no_late_entries(world):
    before = consumed(CONSUMER, "processed")
    ada = world.contacts.CreateContact(
        contacts_pb2.CreateContactRequest(contact=contacts_pb2.Contact(given_name="Ada")), metadata=as_(ADMIN_A)
    )
    world.contacts.DeleteContact(contacts_pb2.DeleteContactRequest(id=ada.id), metadata=as_(ADMIN_A))
    world.publish(
        "marketing",
        (marketing.EmailOpened(engagement=engagement("NOT-YET-KNOWN", 1)), "TENANT_A", "x"),
        (marketing.EmailOpened(engagement=engagement(ada.id, 2)), "TENANT_A", ada.id),
    )
    world.wait_processed(before, 2)
    with world.contacts_db.transaction() as session:
        rows = session.execute(sa.select(TimelineEntryRow.contact_id)).scalars().all()
    assert rows == ["NOT-YET-KNOWN"], "kept for a contact that may arrive; nothing for the deleted one"
    assert code_of(lambda: world.entries("NOT-YET-KNOWN")) == grpc.StatusCode.NOT_FOUND


def test_repoint_contact_moves_activities_and_entries_and_files_late_events_under_the_winner(migrated):
    from services.contacts.activity_rules import ActivityFields, new_activity

    database = migrated("contacts")
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    with database.transaction() as session:
        for activity_id, contacts in (("ACT1", ("LOSER",)), ("ACT2", ("LOSER", "WINNER")), ("ACT3", ("OTHER",))):
            fields = ActivityFields(kind="NOTE", subject=activity_id, contact_ids=contacts)
            timeline_store.add_activity(session, new_activity(activity_id, "T1", fields, now))
        timeline_store.repoint_contact(session, "T1", "LOSER", "WINNER")
    with database.transaction() as session:
        links = dict(session.execute(sa.select(ActivityRow.id, ActivityRow.contact_ids)).all())
        entries = session.execute(
            sa.select(TimelineEntryRow.contact_id, TimelineEntryRow.source_id).order_by(TimelineEntryRow.source_id)
        ).all()
        from services.contacts.timeline_rules import Entry

        late = Entry("email.opened", "late", "", now, "marketing", "M9", contact_id="LOSER")
        assert timeline_store.add_entries(session, "T1", [late]) == 1
        late_owner = session.execute(
            sa.select(TimelineEntryRow.contact_id).where(TimelineEntryRow.source_id == "M9")
        ).scalar_one()
    assert links == {"ACT1": ["WINNER"], "ACT2": ["WINNER"], "ACT3": ["OTHER"]}
    assert [tuple(e) for e in entries] == [("WINNER", "ACT1"), ("WINNER", "ACT2"), ("OTHER", "ACT3")]
    assert late_owner == "WINNER"
    with database.transaction() as session:  # another tenant's contact of the same id is not touched
        timeline_store.repoint_contact(session, "T2", "WINNER", "ELSEWHERE")
        assert session.execute(sa.select(sa.func.count()).where(TimelineEntryRow.contact_id == "WINNER")).scalar() == 3


def test_a_survey_token_never_reaches_the_timeline(world):
    before = consumed(CONSUMER, "processed")
    created = support.SurveyCreated(survey_id="SV2", requester_id="C9", token="secret.jwt.token")
    answered = support.SurveyAnswered(survey_id="SV2", kind=surveys_pb2.Survey.NPS, requester_id="C9", score=9)
    world.publish("support", (created, "TENANT_A", "SV2"), (answered, "TENANT_A", "SV2"))
    world.wait_processed(before, 1)
    with world.contacts_db.transaction() as session:
        rows = session.execute(sa.select(TimelineEntryRow)).scalars().all()
    assert [(r.kind, r.title) for r in rows] == [("survey.answered", "NPS answered: 9/10")]
    assert "secret" not in repr([(r.title, r.summary, r.attributes) for r in rows])
