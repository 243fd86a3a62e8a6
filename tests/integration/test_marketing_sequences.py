"""Nurture sequences on PostgreSQL and RabbitMQ, sending through marketing's one send path to the
real integrations service and a real SMTP server (aiosmtpd): contacts are enrolled when they enter
the segment, steps run once each in order (waits and conditions included), and enrolments exit on
a reply, a conversion or an unsubscribe."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from crm.contacts.v1 import contacts_pb2
from crm.contacts.v1 import events_pb2 as contact_events
from crm.integrations.v1 import connections_pb2
from crm.integrations.v1 import events_pb2 as integration_events
from crm.marketing.v1 import events_pb2 as marketing_events
from crm.sales.v1 import events_pb2 as sales_events

from crmkit.db import Database
from crmkit.errors import AlreadyExists, InvalidArgument
from crmkit.events.outbox import Outbox
from crmkit.events.rabbitmq import RabbitBus
from crmkit.migrations import upgrade
from services.marketing import store
from services.marketing.delivery import Delivery, IntegrationsMailer
from services.marketing.domain import AudienceMember
from services.marketing.domain import sequences as rules
from services.marketing.domain.consent import ConsentRequest
from services.marketing.domain.sequences import SequenceFields, Step
from services.marketing.domain.templating import TemplateParts
from services.marketing.events import contact_projection, engagement_log, sequence_exits
from services.marketing.sequences import DeliverySender, NotSent, Sent, SequenceRunner, Sequences
from services.marketing.store import OUTBOX
from services.marketing.tracking import TrackingKey
from services.marketing.usecases import Consent, SegmentFields, Segments, Templates
from tests.infra import migrations_of
from tests.integration.events_support import RunningConsumer, wait_until
from tests.integration.support_helpers import TOKENS, as_
from tests.integration.test_integrations_email import ADMIN_A, Integrations, smtp_connection
from tests.integration.test_marketing import outgoing
from tests.mailservers import Certificate, SmtpServer, self_signed

T = "TENANT_A"
CUSTOMER = contacts_pb2.Contact.LifecycleStage.Value("CUSTOMER")


class Clock:
    """The scheduler's time, moved by the test instead of waited for."""

    def __init__(self) -> None:
        # Ahead of the consumers' clocks: what they enrol during the test is due at once.
        self.now = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture(scope="module")
def certificate() -> Certificate:
    return self_signed()


@pytest.fixture
def smtp(certificate: Certificate, tmp_path: Path) -> Iterator[SmtpServer]:
    server = SmtpServer(certificate).start(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def integrations(migrated, smtp: SmtpServer, certificate: Certificate) -> Iterator[Integrations]:  # type: ignore[no-untyped-def]
    from crmkit.secretbox import new_key

    running = Integrations(migrated("integrations"), new_key())
    running.connections.CreateConnection(
        connections_pb2.CreateConnectionRequest(connection=smtp_connection(smtp, certificate, smtp.password)),
        metadata=as_(ADMIN_A),
    )
    yield running
    running.stop()


class Marketing:
    """The marketing database with its consumers on the real broker, and a scheduler on a test clock."""

    def __init__(self, database: Database, bus: RabbitBus, integrations: Integrations) -> None:
        self.database = database
        self.clock = Clock()
        self.running = []
        for consumer in (contact_projection(database), engagement_log(database), sequence_exits(database)):
            bus.declare(consumer.subscription)
            self.running.append(RunningConsumer(bus, consumer.subscription, consumer.handle_batch))
        self.publisher = bus.publisher()
        mailer = IntegrationsMailer(f"127.0.0.1:{integrations.server.port}", 30, lambda: TOKENS)
        key = TrackingKey(database, "", "https://crm.example.com")
        self.delivery = Delivery(database, Outbox("marketing", OUTBOX), mailer, key.urls)
        self.sender = DeliverySender(self.delivery)
        self.runner = SequenceRunner(database, self.sender, clock=self.clock, claim_seconds=60)
        self.sequences = Sequences(database, clock=self.clock)
        self.segments = Segments(database)
        self.template = Templates(database).create(
            T, "Nurture", TemplateParts("Hi {{ contact.givenName }}", "<p>Hello</p>", "Hello")
        )

    def publish(self, subject: str, message) -> None:  # type: ignore[no-untyped-def]
        self.publisher.publish([outgoing(T, subject, message)])

    def contact(self, contact_id: str, email: str, tags: list[str], seconds: int = 0) -> None:
        """A contact event, as contacts publishes it; then the email consent it needs to be mailed."""
        message = contacts_pb2.Contact(id=contact_id, given_name=contact_id.title(), email=email, tags=tags)
        message.lifecycle_stage = CUSTOMER
        message.update_time.FromSeconds(1_700_000_000 + seconds)
        self.publish(contact_id, contact_events.ContactCreated(contact=message))

    def subscribe(self, contact_id: str) -> None:
        wait_until(lambda: self.member(contact_id) is not None, 15, f"{contact_id} in the audience")
        Consent(self.database).update(T, contact_id, ConsentRequest("email", "SUBSCRIBED", "CONSENT", "form", False))

    def member(self, contact_id: str):  # type: ignore[no-untyped-def]
        with self.database.transaction() as session:
            return store.get(session, T, contact_id)

    def sequence(self, steps: tuple[Step, ...], segment_id: str = "") -> str:
        view = self.sequences.create(T, SequenceFields("Welcome", segment_id, steps))
        return self.sequences.activate(T, view.row.id, "").row.id

    def enrolment(self, sequence_id: str, contact_id: str):  # type: ignore[no-untyped-def]
        views, _ = self.sequences.enrolments(T, sequence_id, "", "", 1000)
        found = [v for v in views if v.row.contact_id == contact_id]
        return found[0] if found else None

    def close(self) -> None:
        self.publisher.close()
        for running in self.running:
            running.close()


@pytest.fixture
def marketing(migrated, amqp_url, amqp_prefix, integrations) -> Iterator[Marketing]:  # type: ignore[no-untyped-def]
    bus = RabbitBus(amqp_url, amqp_prefix, retry_delays_ms=(50, 100, 200), prefetch=8)
    running = Marketing(migrated("marketing"), bus, integrations)
    yield running
    running.close()


def email(template_id: str) -> Step:
    return Step(rules.EMAIL, template_id=template_id)


def mails_to(smtp: SmtpServer, address: str) -> list:  # type: ignore[type-arg]
    found = [message_from_bytes(r.data, policy=policy.default) for r in smtp.received if address in r.rcpt_tos]
    return found


def test_a_contact_entering_the_segment_gets_each_step_once_in_order_with_waits_and_conditions(
    marketing: Marketing, smtp: SmtpServer
) -> None:
    segment = marketing.segments.create(
        T, SegmentFields("Trial", "DYNAMIC", {"field": "tags", "operator": "contains", "value": "trial"})
    )
    template = marketing.template.id
    steps = (
        email(template),
        Step(rules.WAIT, delay=dt.timedelta(days=2)),
        # Opened the first email: the second one; else jump to the last step.
        Step(rules.CONDITION, rules={"engagement": "opened", "step": 1}, else_step=5),
        email(template),
        email(template),
    )
    sequence_id = marketing.sequence(steps, segment.row.id)
    marketing.contact("ann", "ann@example.com", ["other"])
    marketing.subscribe("ann")
    marketing.contact("bob", "bob@example.com", ["other"])
    marketing.subscribe("bob")
    assert marketing.enrolment(sequence_id, "ann") is None, "not in the segment yet"
    marketing.contact("ann", "ann@example.com", ["trial"], seconds=1)  # enters the segment
    marketing.contact("bob", "bob@example.com", ["trial"], seconds=1)
    wait_until(lambda: marketing.enrolment(sequence_id, "bob") is not None, 15, "enrolment on segment entry")
    assert marketing.enrolment(sequence_id, "ann").row.source == rules.SEGMENT_ENTRY

    assert marketing.runner.tick() == 2
    assert len(mails_to(smtp, "ann@example.com")) == 1 and len(mails_to(smtp, "bob@example.com")) == 1
    ann = marketing.enrolment(sequence_id, "ann")
    assert (ann.row.status, ann.row.next_step) == (rules.RUNNING, 2), "waiting after the wait step"
    assert marketing.runner.tick() == 0, "nothing is due during the wait"

    # Ann opens the first email (the tracking pixel's event); Bob does not.
    opened = marketing_events.Engagement(contact_id="ann", message_id=ann.runs[0].message_id)
    opened.occur_time.GetCurrentTime()
    marketing.publish("ann", marketing_events.EmailOpened(engagement=opened))
    wait_until(lambda: _opened(marketing.database, "ann"), 15, "the open in the engagement log")
    marketing.clock.advance(days=2, seconds=1)
    marketing.runner.tick()

    ann, bob = marketing.enrolment(sequence_id, "ann"), marketing.enrolment(sequence_id, "bob")
    assert [(r.step, r.outcome) for r in ann.runs] == [
        (1, "SENT"),
        (2, "WAITED"),
        (3, "TRUE"),
        (4, "SENT"),
        (5, "SENT"),
    ]
    assert [(r.step, r.outcome) for r in bob.runs] == [(1, "SENT"), (2, "WAITED"), (3, "FALSE"), (5, "SENT")]
    assert (ann.row.status, bob.row.status) == (rules.COMPLETED, rules.COMPLETED)
    assert len(mails_to(smtp, "ann@example.com")) == 3 and len(mails_to(smtp, "bob@example.com")) == 2
    assert marketing.runner.tick() == 0
    # Entering again later enrols nobody twice.
    marketing.contact("ann", "ann@example.com", ["other"], seconds=2)
    wait_until(lambda: marketing.member("ann").tags == ("other",), 15, "ann to leave the segment")
    marketing.contact("ann", "ann@example.com", ["trial"], seconds=3)
    wait_until(lambda: marketing.member("ann").tags == ("trial",), 15, "ann to enter it again")
    views, _ = marketing.sequences.enrolments(T, sequence_id, "", "", 1000)
    assert sorted(v.row.contact_id for v in views) == ["ann", "bob"]


def _opened(database: Database, contact_id: str) -> bool:
    with database.transaction() as session:
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        return any(e.kind == "opened" for e in store.engagements(session, T, contact_id, since))


def test_enrolments_exit_on_a_reply_a_conversion_a_won_deal_and_an_unsubscribe(
    marketing: Marketing, smtp: SmtpServer
) -> None:
    template = marketing.template.id
    steps = (email(template), Step(rules.WAIT, delay=dt.timedelta(days=1)), email(template))
    sequence_id = marketing.sequence(steps)
    people = {"ann": "ann@example.com", "bob": "bob@example.com", "cid": "cid@example.com", "dee": "dee@example.com"}
    people |= {"eve": "eve@example.com", "fay": "fay@example.com"}
    for contact_id, address in people.items():
        marketing.contact(contact_id, address, [])
        marketing.subscribe(contact_id)
        marketing.sequences.enrol_contact(T, sequence_id, contact_id)
    with pytest.raises(AlreadyExists):
        marketing.sequences.enrol_contact(T, sequence_id, "ann")
    marketing.runner.tick()
    assert len(smtp.received) == 6

    first = mails_to(smtp, "ann@example.com")[0]
    reply = integration_events.InboundEmailReceived(
        message_id="reply-1@mail.example", in_reply_to=first["Message-ID"], from_address="someone@else.example"
    )
    marketing.publish("", reply)
    # Bob's client dropped the threading headers: his address is enough.
    marketing.publish("", integration_events.InboundEmailReceived(message_id="r-2@x", from_address="BOB@example.com"))
    lead = sales_events.LeadSnapshot(id="L1", email="cid@example.com")
    marketing.publish("L1", sales_events.LeadConverted(lead=lead, contact_id="cid"))
    deal = sales_events.OpportunitySnapshot(id="D1", contact_id="dee")
    marketing.publish("D1", sales_events.OpportunityWon(opportunity=deal))
    marketing.publish("eve", marketing_events.Unsubscribed(engagement=marketing_events.Engagement(contact_id="eve")))

    def reasons() -> dict[str, str]:
        views, _ = marketing.sequences.enrolments(T, sequence_id, "EXITED", "", 1000)
        return {v.row.contact_id: v.row.exit_reason for v in views}

    expected = {"ann": "REPLIED", "bob": "REPLIED", "cid": "CONVERTED", "dee": "CONVERTED", "eve": "UNSUBSCRIBED"}
    wait_until(lambda: reasons() == expected, 15, "every exit")
    marketing.clock.advance(days=1, seconds=1)
    marketing.runner.tick()
    assert {c: len(mails_to(smtp, a)) for c, a in people.items()} == {c: 2 if c == "fay" else 1 for c in people}
    active, _ = marketing.sequences.enrolments(T, sequence_id, "COMPLETED", "", 10)
    assert [v.row.contact_id for v in active] == ["fay"]


def test_an_unsubscribe_recorded_over_the_api_exits_and_a_refused_send_exits_too(
    marketing: Marketing, smtp: SmtpServer
) -> None:
    template = marketing.template.id
    sequence_id = marketing.sequence((email(template), Step(rules.WAIT, delay=dt.timedelta(hours=1)), email(template)))
    for contact_id in ("ann", "bob"):
        marketing.contact(contact_id, f"{contact_id}@example.com", [])
        marketing.subscribe(contact_id)
    marketing.contact("cid", "cid@example.com", [])
    wait_until(lambda: marketing.member("cid") is not None, 15, "cid in the audience")  # never subscribed
    for contact_id in ("ann", "bob", "cid"):
        marketing.sequences.enrol_contact(T, sequence_id, contact_id)
    marketing.runner.tick()
    consent = Consent(marketing.database)
    consent.update(T, "ann", ConsentRequest("email", "UNSUBSCRIBED", "CONSENT", "phone call", False))
    ann, cid = marketing.enrolment(sequence_id, "ann"), marketing.enrolment(sequence_id, "cid")
    assert (ann.row.status, ann.row.exit_reason) == (rules.EXITED, "UNSUBSCRIBED")
    assert (cid.row.status, cid.row.exit_reason, cid.row.exit_detail) == (rules.EXITED, "NOT_SENDABLE", "no_consent")
    assert [(r.step, r.outcome, r.detail) for r in cid.runs] == [(1, "NOT_SENT", "no_consent")]
    assert mails_to(smtp, "cid@example.com") == []


class CrashAfterSending:
    """Sends, then 'dies' before the scheduler records the step."""

    def __init__(self, sender: DeliverySender) -> None:
        self.sender = sender
        self.sent: list[Sent | NotSent | None] = []

    def __call__(self, *args):  # type: ignore[no-untyped-def]
        self.sent.append(self.sender(*args))
        raise SystemExit("crashed")


def test_a_crash_between_the_send_and_its_record_neither_repeats_nor_skips_the_step(
    marketing: Marketing, smtp: SmtpServer
) -> None:
    template = marketing.template.id
    sequence_id = marketing.sequence((email(template), email(template)))
    marketing.contact("ann", "ann@example.com", [])
    marketing.subscribe("ann")
    marketing.sequences.enrol_contact(T, sequence_id, "ann")
    crashing = CrashAfterSending(marketing.sender)
    with pytest.raises(SystemExit):
        SequenceRunner(marketing.database, crashing, clock=marketing.clock, claim_seconds=60).tick()
    assert len(crashing.sent) == 1 and isinstance(crashing.sent[0], Sent)
    assert len(smtp.received) == 1 and marketing.enrolment(sequence_id, "ann").runs == []
    assert marketing.runner.tick() == 0, "claimed: no other scheduler takes it before the claim expires"
    marketing.clock.advance(seconds=61)
    marketing.runner.tick()
    ann = marketing.enrolment(sequence_id, "ann")
    assert [(r.step, r.outcome) for r in ann.runs] == [(1, "SENT"), (2, "SENT")]
    assert ann.runs[0].message_id == crashing.sent[0].message_id
    assert len(smtp.received) == 2 and ann.row.status == rules.COMPLETED


def test_definitions_are_checked_field_by_field_and_paused_sequences_run_nothing(
    marketing: Marketing, smtp: SmtpServer
) -> None:
    bad = SequenceFields("Welcome", "NOSUCHSEGMENT", (email("NOSUCHTEMPLATE"), Step(rules.WAIT)))
    with pytest.raises(InvalidArgument) as caught:
        marketing.sequences.create(T, bad)
    assert {v.field for v in caught.value.violations} == {"steps[1].wait.delay"}
    with pytest.raises(InvalidArgument) as caught:
        marketing.sequences.create(T, SequenceFields("Welcome", "NOSUCHSEGMENT", (email("NOSUCHTEMPLATE"),)))
    assert {v.field for v in caught.value.violations} == {"segmentId", "steps[0].email.templateId"}

    sequence_id = marketing.sequence((email(marketing.template.id),))
    marketing.contact("ann", "ann@example.com", [])
    marketing.subscribe("ann")
    marketing.sequences.enrol_contact(T, sequence_id, "ann")
    marketing.sequences.pause(T, sequence_id, "")
    assert marketing.runner.tick() == 0 and smtp.received == []
    with pytest.raises(InvalidArgument) as caught:
        marketing.sequences.update(T, sequence_id, SequenceFields("", "", (email(marketing.template.id),) * 2), [], "")
    assert {v.field for v in caught.value.violations} == {"steps"}, "an activated sequence keeps its steps"
    marketing.sequences.activate(T, sequence_id, "")
    marketing.runner.tick()
    assert len(smtp.received) == 1


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_two_schedulers_at_once_share_the_steps_and_run_each_exactly_once(
    backend: str, migrated, tmp_path: Path, integrations: Integrations, smtp: SmtpServer
) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL: SKIP LOCKED and claims; SQLite (no SKIP LOCKED): claims, writers queued by
    BEGIN IMMEDIATE, and the step record's key."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'marketing.db'}"
        upgrade(migrations_of("marketing"), url)
        database = Database(url)
    else:
        database = migrated("marketing")
    clock = Clock()
    mailer = IntegrationsMailer(f"127.0.0.1:{integrations.server.port}", 30, lambda: TOKENS)
    key = TrackingKey(database, "", "https://x.example")  # read lazily, on the first send
    sender = DeliverySender(Delivery(database, Outbox("marketing", OUTBOX), mailer, key.urls))
    sequences = Sequences(database, clock=clock)
    template = Templates(database).create(T, "Step", TemplateParts("Hi", "", "Hello"))
    steps = (email(template.id), Step(rules.WAIT, delay=dt.timedelta(hours=1)), email(template.id))
    sequence_id = sequences.activate(T, sequences.create(T, SequenceFields("Two", "", steps)).row.id, "").row.id
    people = [f"p{n}" for n in range(6)]
    for contact_id in people:
        with database.transaction() as session:
            now = dt.datetime.now(dt.UTC)
            store.put(session, AudienceMember(T, contact_id, f"{contact_id}@example.com", "P", "", "LEAD", (), now))
        Consent(database).update(T, contact_id, ConsentRequest("email", "SUBSCRIBED", "CONSENT", "form", False))
        sequences.enrol_contact(T, sequence_id, contact_id)

    def both_tick() -> None:
        runners = [SequenceRunner(database, sender, clock=clock, claim_seconds=600) for _ in range(2)]
        threads = [threading.Thread(target=r.tick) for r in runners]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)

    both_tick()
    clock.advance(hours=1, seconds=1)
    both_tick()
    views, _ = sequences.enrolments(T, sequence_id, "", "", 100)
    assert {v.row.contact_id: [(r.step, r.outcome) for r in v.runs] for v in views} == {
        c: [(1, "SENT"), (2, "WAITED"), (3, "SENT")] for c in people
    }
    received = Counter(rcpt for mail in smtp.received for rcpt in mail.rcpt_tos)
    assert received == {f"{c}@example.com": 2 for c in people}
    database.dispose()


def test_a_privacy_export_shows_the_enrolments_and_an_erasure_ends_them(marketing: Marketing, smtp: SmtpServer) -> None:
    from crmkit.privacy import Identifiers
    from services.marketing import privacy

    template = marketing.template.id
    sequence_id = marketing.sequence((email(template), Step(rules.WAIT, delay=dt.timedelta(days=1)), email(template)))
    marketing.contact("ann", "ann@example.com", [])
    marketing.subscribe("ann")
    marketing.sequences.enrol_contact(T, sequence_id, "ann")
    marketing.runner.tick()
    with marketing.database.transaction() as session:
        exported = privacy.export(session, T, "ann", Identifiers.of(["ann@example.com"], [], []))
    [enrolment] = exported["sequenceEnrolments"]
    assert (enrolment["sequenceId"], enrolment["status"]) == (sequence_id, "ACTIVE")
    assert [(r["step"], r["outcome"]) for r in enrolment["stepRuns"]] == [(1, "SENT"), (2, "WAITED")]
    with marketing.database.transaction() as session:
        counts = privacy.erase(session, T, "ann", Identifiers.of(["ann@example.com"], [], []))
    assert counts["sequenceEnrolments"] == 1
    ann = marketing.enrolment(sequence_id, "ann")
    assert (ann.row.status, ann.row.exit_reason) == (rules.EXITED, "CONTACT_DELETED")
    marketing.clock.advance(days=1, seconds=1)
    assert marketing.runner.tick() == 0 and len(smtp.received) == 1
