"""Marketing on real PostgreSQL and RabbitMQ: contact and engagement events keep segment
membership up to date one contact at a time, hard bounces suppress, unsubscribes are final."""

from __future__ import annotations

import datetime as dt

import pytest
from crm.contacts.v1 import contacts_pb2
from crm.contacts.v1 import events_pb2 as contact_events
from crm.events.v1.envelope_pb2 import Envelope
from crm.marketing.v1 import events_pb2 as marketing_events
from google.protobuf.message import Message

from crmkit.errors import FailedPrecondition, InvalidArgument, NotFound
from crmkit.events.rabbitmq import RabbitBus
from crmkit.events.transport import OutgoingMessage
from crmkit.ids import new_id
from services.marketing import store
from services.marketing.domain.consent import ConsentRequest, Recipient, may_send, normalise_email
from services.marketing.domain.templating import Rendered, RenderError, TemplateParts
from services.marketing.events import contact_projection, engagement_log
from services.marketing.usecases import Consent, SegmentFields, Segments, Templates
from tests.integration.events_support import RunningConsumer, wait_until

T, OTHER = "TENANT-A", "TENANT-B"


def outgoing(tenant: str, subject: str, message: Message) -> OutgoingMessage:
    envelope = Envelope(
        id=new_id(),
        type=message.DESCRIPTOR.full_name,
        source="test",
        tenant=tenant,
        subject=subject,
        data=message.SerializeToString(),
    )
    envelope.time.GetCurrentTime()
    return OutgoingMessage(envelope.id, envelope.type, envelope.SerializeToString())


def contact(
    contact_id: str, stage: int, seconds: int, email: str = "ada@example.com", **custom
) -> contacts_pb2.Contact:
    message = contacts_pb2.Contact(id=contact_id, given_name="Ada", email=email, lifecycle_stage=stage, tags=["vip"])
    message.custom_fields.update(custom)
    message.update_time.FromSeconds(1_700_000_000 + seconds)  # before the deletion's envelope time
    return message


def engagement(contact_id: str, email: str = "ada@example.com") -> marketing_events.Engagement:
    found = marketing_events.Engagement(contact_id=contact_id, email=email, campaign_id="CAMP1", message_id=new_id())
    found.occur_time.GetCurrentTime()
    return found


LEAD = contacts_pb2.Contact.LifecycleStage.Value("LEAD")
CUSTOMER = contacts_pb2.Contact.LifecycleStage.Value("CUSTOMER")


@pytest.fixture
def bus(amqp_url, amqp_prefix):
    return RabbitBus(amqp_url, amqp_prefix, retry_delays_ms=(50, 100, 200), prefetch=8)


@pytest.fixture
def marketing(migrated, bus):
    """The marketing database with both of its consumers running over the real broker."""
    database = migrated("marketing")
    consumers = [contact_projection(database), engagement_log(database)]
    running = []
    for consumer in consumers:
        bus.declare(consumer.subscription)
        running.append(RunningConsumer(bus, consumer.subscription, consumer.handle_batch))
    publisher = bus.publisher()
    yield database, publisher
    publisher.close()
    for r in running:
        r.close()


def members(segments: Segments, segment_id: str, tenant: str = T) -> list[str]:
    found, _ = segments.members(tenant, segment_id, "", 100)
    return [m.contact_id for m in found]


def test_events_keep_segments_current_and_bounces_suppress(marketing):
    database, publisher = marketing
    segments = Segments(database)
    leads = segments.create(
        T,
        SegmentFields(
            "Pro leads",
            "DYNAMIC",
            {
                "all": [
                    {"field": "lifecycleStage", "operator": "equals", "value": "LEAD"},
                    {"field": "customFields.plan", "operator": "equals", "value": "pro"},
                ]
            },
        ),
    ).row.id
    clickers = segments.create(
        T, SegmentFields("Clickers", "DYNAMIC", {"engagement": "clicked", "withinDays": 30})
    ).row.id

    publisher.publish([outgoing(T, "C1", contact_events.ContactCreated(contact=contact("C1", LEAD, 0, plan="pro")))])
    wait_until(lambda: members(segments, leads) == ["C1"], what="C1 entering the segment")
    assert segments.get(T, leads).member_count == 1 and members(segments, clickers) == []

    # An import batch moves the contact on: it leaves the segment, nothing else is recomputed.
    imported = contact_events.ContactsImported(contacts=[contact("C1", CUSTOMER, 10, plan="pro")])
    publisher.publish([outgoing(T, "C1", imported)])
    wait_until(lambda: members(segments, leads) == [], what="C1 leaving the segment")

    publisher.publish([outgoing(T, "C1", marketing_events.EmailClicked(engagement=engagement("C1"), url="https://x"))])
    wait_until(lambda: members(segments, clickers) == ["C1"], what="the click entering the engagement segment")

    # A hard bounce suppresses the address for the tenant, whatever contact id holds it next.
    bounce = marketing_events.EmailBounced(engagement=engagement("C1", "Ada@Example.com"), hard=True)
    publisher.publish([outgoing(T, "C1", bounce)])
    with database.transaction() as session:
        wait_until(lambda: store.suppressed_among(session, T, ["ada@example.com"]), what="the suppression")
    publisher.publish([outgoing(T, "C2", contact_events.ContactCreated(contact=contact("C2", LEAD, 0)))])
    wait_until(lambda: _member(database, "C2") is not None, what="C2's projection")
    consent = Consent(database)
    consent.update(T, "C2", ConsentRequest("email", "SUBSCRIBED", "CONSENT", "signup form", False))
    with database.transaction() as session:
        recipient = Recipient(_member(database, "C2"), store.subscriptions(session, T, "C2"))  # type: ignore[arg-type]
        suppression = store.suppressed_among(session, T, [normalise_email(recipient.member.email)])
    assert may_send(recipient, "email", suppression).reason == "suppressed"
    complaint = marketing_events.EmailComplained(engagement=engagement("C9", " Spam.Reporter@Example.com"))
    publisher.publish([outgoing(T, "C9", complaint)])
    wait_until(
        lambda: (
            [(s.email, s.reason) for s in consent.suppressions(T, "", 10)[0]]
            == [("ada@example.com", "HARD_BOUNCE"), ("spam.reporter@example.com", "COMPLAINT")]
        ),
        what="the complaint's suppression",
    )
    assert consent.suppressions(OTHER, "", 10)[0] == []

    # An unsubscribe link is final: the contact's next subscription needs an explicit opt-in.
    publisher.publish([outgoing(T, "C2", marketing_events.Unsubscribed(engagement=engagement("C2"), channel="email"))])
    wait_until(
        lambda: [s.status for s in consent.of_contact(T, "C2").current] == ["UNSUBSCRIBED"], what="the unsubscribe"
    )
    with pytest.raises(FailedPrecondition):
        consent.update(T, "C2", ConsentRequest("email", "SUBSCRIBED", "LEGITIMATE_INTEREST", "import", False))
    consent.update(T, "C2", ConsentRequest("email", "SUBSCRIBED", "CONSENT", "double opt-in", True))
    history = consent.of_contact(T, "C2").history
    assert [(h.status, h.source) for h in history] == [
        ("SUBSCRIBED", "signup form"),
        ("UNSUBSCRIBED", "unsubscribe link"),
        ("SUBSCRIBED", "double opt-in"),
    ]

    # A deleted contact leaves every segment.
    deleted = contact_events.ContactDeleted(contact_id="C1")
    publisher.publish([outgoing(T, "C1", deleted)])
    wait_until(lambda: members(segments, clickers) == [], what="the deleted contact leaving")


def _member(database, contact_id: str):
    with database.transaction() as session:
        return store.get(session, T, contact_id)


def _seed(database, *members_: tuple[str, str, tuple[str, ...]]) -> None:
    from services.marketing.domain import AudienceMember

    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with database.transaction() as session:
        for contact_id, stage, tags in members_:
            store.put(session, AudienceMember(T, contact_id, f"{contact_id}@x.io", "N", "F", stage, tags, now))


def test_rule_changes_rebuild_static_lists_are_edited_and_tenants_are_apart(migrated):
    database = migrated("marketing")
    _seed(database, ("A1", "LEAD", ("vip",)), ("A2", "CUSTOMER", ("vip",)), ("A3", "LEAD", ()))
    segments = Segments(database)
    vip = segments.create(T, SegmentFields("VIP", "DYNAMIC", {"field": "tags", "operator": "contains", "value": "vip"}))
    assert vip.member_count == 2
    page, token = segments.members(T, vip.row.id, "", 1)
    assert [m.contact_id for m in page] == ["A1"] and token
    assert [m.contact_id for m in segments.members(T, vip.row.id, token, 1)[0]] == ["A2"]

    changed = segments.update(
        T,
        vip.row.id,
        SegmentFields("", "", {"field": "lifecycleStage", "operator": "equals", "value": "LEAD"}),
        ["rules"],
    )
    assert changed.member_count == 2 and members(segments, vip.row.id) == ["A1", "A3"]

    with pytest.raises(InvalidArgument) as caught:
        segments.update(
            T, vip.row.id, SegmentFields("", "", {"all": [{"field": "x", "operator": "equals"}]}), ["rules"]
        )
    assert "rules.all[0].field" in {v.field for v in caught.value.violations}
    assert members(segments, vip.row.id) == ["A1", "A3"]  # nothing written

    hand = segments.create(T, SegmentFields("Hand-picked", "STATIC", {}))
    assert segments.change_members(T, hand.row.id, ["A2", "A3"], add=True).member_count == 2
    assert segments.change_members(T, hand.row.id, ["A3"], add=False).member_count == 1
    with pytest.raises(InvalidArgument):
        segments.change_members(T, hand.row.id, ["NOPE"], add=True)
    with pytest.raises(NotFound):
        segments.get(OTHER, hand.row.id)
    with pytest.raises(NotFound):
        segments.change_members(OTHER, hand.row.id, ["A1"], add=True)


def test_template_preview_renders_everything_or_reports_the_recipients_error(migrated):
    database = migrated("marketing")
    _seed(database, ("A1", "LEAD", ()))
    templates = Templates(database)
    row = templates.create(
        T,
        "Welcome",
        TemplateParts("Hi {{ contact.givenName | default('there') }}", "<b>{{ contact.email }}</b>", ""),
    )
    assert templates.preview(T, row.id, "A1") == Rendered("Hi N", "<b>A1@x.io</b>", "")
    broken = templates.create(T, "Broken", TemplateParts("Hi", "{{ contact.nickname }}", ""))
    assert isinstance(templates.preview(T, broken.id, "A1"), RenderError)
    with pytest.raises(NotFound):
        templates.preview(OTHER, row.id, "A1")
    with pytest.raises(InvalidArgument) as caught:
        templates.create(T, "", TemplateParts("{{", "", ""))
    assert {v.field for v in caught.value.violations} == {"name", "subject", "htmlBody"}


def test_a_contact_leaves_a_time_window_segment_when_its_engagement_ages_out(migrated):
    from services.marketing.domain.segments import Engagement
    from services.marketing.usecases import EngagementExpiry

    database = migrated("marketing")
    _seed(database, ("A1", "LEAD", ()), ("A2", "LEAD", ()))
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    with database.transaction() as session:
        store.log_engagement(session, new_id(), T, "A1", "M1", Engagement("clicked", "C", start))
        store.log_engagement(session, new_id(), T, "A2", "M2", Engagement("clicked", "C", start + dt.timedelta(days=5)))
    segments = Segments(database, clock=lambda: start + dt.timedelta(days=6))
    recent = segments.create(T, SegmentFields("Clicked lately", "DYNAMIC", {"engagement": "clicked", "withinDays": 7}))
    assert members(segments, recent.row.id) == ["A1", "A2"]

    expiry = EngagementExpiry(database)
    assert expiry.tick(start + dt.timedelta(days=6)) == 0  # the first tick starts the clock
    assert expiry.tick(start + dt.timedelta(days=8)) == 1  # A1's click is now 8 days old
    assert members(segments, recent.row.id) == ["A2"]
    # A long pause misses nothing: both edges crossed while it was not running are handled at once.
    assert expiry.tick(start + dt.timedelta(days=30)) == 1
    assert members(segments, recent.row.id) == []


def test_an_erased_persons_suppressed_address_stays_suppressed_as_a_digest(marketing):
    from crmkit.privacy import Identifiers
    from services.marketing import privacy

    database, _ = marketing
    when = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    with database.transaction() as session:
        store.suppress(session, T, store.Suppressed("ada@example.com", "HARD_BOUNCE", "C1", when))
        store.suppress(session, T, store.Suppressed("bob@example.com", "COMPLAINT", "C2", when))
        store.suppress(session, OTHER, store.Suppressed("ada@example.com", "COMPLAINT", "X1", when))
    ada = Identifiers.of(["Ada@Example.com"], [], ["Ada Lovelace"])
    with database.transaction() as session:
        exported = privacy.export(session, T, "C1", ada)
    assert [(s["email"], s["reason"]) for s in exported["suppressions"]] == [("ada@example.com", "HARD_BOUNCE")]

    with database.transaction() as session:
        assert privacy.erase(session, T, "C1", ada)["suppressions"] == 1
    with database.transaction() as session:
        assert privacy.erase(session, T, "C1", ada)["suppressions"] == 0  # a redelivery changes nothing
    listed = [(s.email, s.reason, s.contact_id) for s in Consent(database).suppressions(T, "", 10)[0]]
    assert ("bob@example.com", "COMPLAINT", "C2") in listed and len(listed) == 2
    [(kept, reason, contact_id)] = [entry for entry in listed if entry[0] != "bob@example.com"]
    assert kept.startswith(store.ERASED_ADDRESS) and "ada" not in kept and (reason, contact_id) == ("HARD_BOUNCE", "")

    # Still refused: the address sent to again matches its digest; another tenant's entry is its own.
    with database.transaction() as session:
        assert store.suppressed_among(session, T, ["ada@example.com", "bob@example.com", "eve@example.com"]) == {
            "ada@example.com",
            "bob@example.com",
        }
        assert store.suppressions_of(session, OTHER, "X1", [])[0].email == "ada@example.com"
