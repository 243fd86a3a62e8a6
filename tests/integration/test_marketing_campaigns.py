"""Campaigns on PostgreSQL and RabbitMQ, sending through the real integrations service to a real
SMTP server: validation, etags, tenancy, the sender's rate and per-recipient records, tracking
(opens, clicks that only go to the message's own links, one-click unsubscribes), bounces and won
deals in the analytics."""

from __future__ import annotations

import datetime as dt
import re
from email import message_from_bytes, policy

import pytest
from crm.marketing.v1 import events_pb2 as marketing_events
from crm.sales.v1 import events_pb2 as sales_events

from crmkit.errors import Aborted, FailedPrecondition, InvalidArgument, NotFound
from crmkit.events.outbox import Outbox
from crmkit.events.rabbitmq import RabbitBus
from services.marketing import store
from services.marketing.campaigns import Campaigns, CampaignSender, conversions_consumer
from services.marketing.delivery import Delivery, IntegrationsMailer
from services.marketing.domain.campaigns import CampaignFields, Cost
from services.marketing.domain.tracking import CLICK, Claims
from services.marketing.events import engagement_log
from services.marketing.store import OUTBOX
from services.marketing.tracking import Tracking, TrackingKey
from services.marketing.usecases import SegmentFields, Segments, Templates
from tests.integration.events_support import RunningConsumer, wait_until
from tests.integration.marketing_helpers import TEMPLATE, T, member
from tests.integration.support_helpers import TOKENS
from tests.integration.test_marketing import outgoing

OTHER = "TENANT_B"
EUR = 1_000_000_000


@pytest.fixture
def bus(amqp_url, amqp_prefix):
    return RabbitBus(amqp_url, amqp_prefix, retry_delays_ms=(50, 100, 200), prefetch=8)


def violations(call) -> set[str]:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidArgument) as caught:
        call()
    return {v.field for v in caught.value.violations}


def links_of(raw: bytes) -> tuple[str, list[str], str]:
    """The unsubscribe URL (header), the click URLs and the open pixel URL (HTML part) of a mail."""
    mail = message_from_bytes(raw, policy=policy.default)
    body = mail.get_body(("html",))
    assert body is not None
    html = body.get_content()
    clicks = re.findall(r'href="([^"]*/v1/tracking/clicks/[^"]+)"', html)
    [pixel] = re.findall(r'src="([^"]*/v1/tracking/opens/[^"]+)"', html)
    return str(mail["List-Unsubscribe"]).strip("<>"), clicks, pixel


def token(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_a_campaign_goes_to_its_segment_minus_refused_contacts_at_its_rate_and_is_counted(
    migrated, integrations_smtp, smtp_server, bus
) -> None:  # type: ignore[no-untyped-def]
    database = migrated("marketing")
    member(database, "ann", "ann@example.com", True, plan="pro")
    member(database, "bob", "bob@example.com", False, plan="pro")  # unsubscribed
    member(database, "cid", "cid@example.com", True, plan="pro")  # suppressed
    member(database, "dee", "dee@example.com", True)  # the text part needs a plan
    member(database, "fay", "fay@example.com", True, plan="team")
    with database.transaction() as session:
        store.suppress(session, T, store.Suppressed("cid@example.com", "COMPLAINT", "cid", dt.datetime.now(dt.UTC)))
    segment = Segments(database).create(T, SegmentFields("Everyone", "STATIC", {}))
    Segments(database).change_members(T, segment.row.id, ["ann", "bob", "cid", "dee", "fay"], add=True)
    template = Templates(database).create(T, "Spring", TEMPLATE)
    campaigns = Campaigns(database)
    outbox = Outbox("marketing", OUTBOX)
    key = TrackingKey(database, "", "https://crm.example.com")
    mailer = IntegrationsMailer(f"127.0.0.1:{integrations_smtp.server.port}", 30, lambda: TOKENS)
    sender = CampaignSender(database, Delivery(database, outbox, mailer, key.urls))

    assert violations(lambda: campaigns.create(T, CampaignFields(segment_id="x/y", send_rate_per_minute=100_000))) == {
        "name",
        "segmentId",
        "templateId",
        "sendRatePerMinute",
    }
    assert violations(
        lambda: campaigns.create(T, CampaignFields("Spring", "NOPE", template.id, subject="{{ oops"))
    ) == {"subject"}
    assert violations(lambda: campaigns.create(T, CampaignFields("Spring", "NOPE", template.id))) == {"segmentId"}
    fields = CampaignFields(
        "Spring sale", segment.row.id, template.id, send_rate_per_minute=60, cost=Cost("EUR", 100 * EUR)
    )
    created = campaigns.create(T, fields)
    assert created.row.status == "DRAFT"
    with pytest.raises(NotFound):
        campaigns.get(OTHER, created.row.id)
    second = campaigns.create(T, CampaignFields("Autumn", segment.row.id, template.id))
    first_page, next_token = campaigns.page(T, "", 1)
    rest, last_token = campaigns.page(T, next_token, 1)
    assert [v.row.id for v in first_page + rest] == [created.row.id, second.row.id] and last_token == ""
    assert campaigns.page(OTHER, "", 10) == ([], "")
    campaigns.delete(T, second.row.id, second.etag)
    with pytest.raises(Aborted):
        campaigns.update(T, created.row.id, CampaignFields(name="Renamed"), ["name"], "stale")
    renamed = campaigns.update(T, created.row.id, CampaignFields(name="Spring sale!"), ["name"], created.etag)
    assert renamed.fields.name == "Spring sale!" and renamed.etag != created.etag

    now = dt.datetime.now(dt.UTC)
    scheduled = campaigns.schedule(T, created.row.id, now + dt.timedelta(hours=1), renamed.etag)
    assert scheduled.row.status == "SCHEDULED"
    assert sender.tick(now) == 0 and smtp_server.received == []  # not due yet
    start = now + dt.timedelta(hours=1)
    assert sender.tick(start) == 1  # 60 a minute: one at once, then one a second
    assert campaigns.get(T, created.row.id).row.status == "SENDING"
    assert sender.tick(start + dt.timedelta(seconds=2)) == 2
    assert sender.tick(start + dt.timedelta(seconds=60)) == 2
    assert campaigns.get(T, created.row.id).row.status == "SENT"
    with pytest.raises(FailedPrecondition):
        campaigns.update(T, created.row.id, CampaignFields(name="x"), ["name"], "")

    assert sorted(r.rcpt_tos[0] for r in smtp_server.received) == ["ann@example.com", "fay@example.com"]
    records = {r.contact_id: r for r in campaigns.messages(T, created.row.id, "", "", 50)[0]}
    assert {c: (r.status, r.reason) for c, r in records.items()} == {
        "ann": ("SENT", ""),
        "bob": ("SKIPPED", "unsubscribed"),
        "cid": ("SKIPPED", "suppressed"),
        "dee": ("RENDER_FAILED", ""),
        "fay": ("SENT", ""),
    }
    assert "plan" in records["dee"].render_error
    skipped, _ = campaigns.messages(T, created.row.id, "SKIPPED", "", 1)
    assert len(skipped) == 1 and skipped[0].status == "SKIPPED"

    ann_mail = next(r.data for r in smtp_server.received if r.rcpt_tos == ["ann@example.com"])
    unsubscribe_url, clicks, pixel = links_of(ann_mail)
    tracking = Tracking(database, outbox, key)
    assert tracking.opened(token(pixel)).startswith(b"GIF89a")
    tracking.opened(token(pixel))  # a second open of the same message: still one unique open
    assert tracking.clicked(token(clicks[0])) == "https://shop.example.com/spring?a=1&b=2"
    forged = key.urls().signer.sign(CLICK, Claims(T, records["ann"].id, "https://evil.example.net/"))
    payload, mac = token(clicks[0]).split(".")
    for refused in (forged, f"{forged.split('.')[0]}.{mac}", f"{payload}.{mac[:-3]}xyz", token(pixel)):
        with pytest.raises(NotFound):
            tracking.clicked(refused)
    assert "List-Unsubscribe" in tracking.unsubscribe_page(token(unsubscribe_url))
    with database.transaction() as session:
        assert store.subscriptions(session, T, "ann")["email"].status == "SUBSCRIBED"  # a GET changes nothing
    with pytest.raises(InvalidArgument):
        tracking.unsubscribe(token(unsubscribe_url), {"List-Unsubscribe": "maybe"})
    tracking.unsubscribe(token(unsubscribe_url), {"List-Unsubscribe": "One-Click"})
    tracking.unsubscribe(token(unsubscribe_url), {"List-Unsubscribe": "One-Click"})  # a repeat is harmless
    with database.transaction() as session:
        assert store.subscriptions(session, T, "ann")["email"].status == "UNSUBSCRIBED"

    # A hard bounce of fay's message and a deal ann's contact won arrive by event.
    consumers = [engagement_log(database), conversions_consumer(database)]
    running = []
    for consumer in consumers:
        bus.declare(consumer.subscription)
        running.append(RunningConsumer(bus, consumer.subscription, consumer.handle_batch))
    publisher = bus.publisher()
    try:
        bounce = marketing_events.Engagement(contact_id="fay", email="fay@example.com", message_id=records["fay"].id)
        publisher.publish([outgoing(T, "fay", marketing_events.EmailBounced(engagement=bounce, hard=True))])
        deal = sales_events.OpportunitySnapshot(id="OPP1", contact_id="ann", stage_category="won")
        deal.amount.currency_code, deal.amount.units = "EUR", 1000
        deal.update_time.GetCurrentTime()
        publisher.publish([outgoing(T, "OPP1", sales_events.OpportunityWon(opportunity=deal))])
        elsewhere = sales_events.OpportunitySnapshot(id="OPP2", contact_id="fay", stage_category="won")
        elsewhere.amount.currency_code, elsewhere.amount.units = "EUR", 500
        publisher.publish([outgoing(T, "OPP2", sales_events.OpportunityWon(opportunity=elsewhere))])
        wait_until(
            lambda: (
                campaigns.analytics(T, created.row.id).bounced == 1
                and campaigns.analytics(T, created.row.id).conversions == 1
            ),
            30,
            "the bounce and the conversion",
        )
    finally:
        publisher.close()
        for r in running:
            r.close()
    found = campaigns.analytics(T, created.row.id)
    assert (found.recipients, found.skipped, found.render_failed, found.sent, found.bounced, found.delivered) == (
        5,
        2,
        1,
        2,
        1,
        1,
    )
    assert (found.unique_opens, found.unique_clicks, found.unsubscribes) == (1, 1, 1)
    assert found.click_through_rate == 1.0  # one unique click of one delivered message
    # fay never opened or clicked: her deal is not the campaign's.
    assert found.revenue == {"EUR": 1000 * EUR} and found.conversions == 1
    assert found.roi == pytest.approx(9.0)  # (1000 - 100) / 100
    with database.transaction() as session:
        assert store.suppressed_among(session, T, ["fay@example.com"]) == {"fay@example.com"}


def test_cancelling_a_sending_campaign_skips_whom_it_has_not_reached(migrated, integrations_smtp, smtp_server) -> None:  # type: ignore[no-untyped-def]
    database = migrated("marketing")
    for name in ("ann", "bob", "cid"):
        member(database, name, f"{name}@example.com", True, plan="pro")
    segment = Segments(database).create(T, SegmentFields("Everyone", "STATIC", {}))
    Segments(database).change_members(T, segment.row.id, ["ann", "bob", "cid"], add=True)
    template = Templates(database).create(T, "Spring", TEMPLATE)
    campaigns = Campaigns(database)
    key = TrackingKey(database, "", "https://crm.example.com")
    mailer = IntegrationsMailer(f"127.0.0.1:{integrations_smtp.server.port}", 30, lambda: TOKENS)
    sender = CampaignSender(database, Delivery(database, Outbox("marketing", OUTBOX), mailer, key.urls))
    created = campaigns.create(T, CampaignFields("Slow", segment.row.id, template.id, send_rate_per_minute=1))
    with pytest.raises(FailedPrecondition):
        campaigns.delete(T, campaigns.schedule(T, created.row.id, None, "").row.id, "")
    now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    assert sender.tick(now) == 1
    cancelled = campaigns.cancel(T, created.row.id, "")
    assert cancelled.row.status == "CANCELLED"
    assert sender.tick(now + dt.timedelta(minutes=5)) == 0
    statuses = sorted((r.status, r.reason) for r in campaigns.messages(T, created.row.id, "", "", 50)[0])
    assert statuses == [("SENT", ""), ("SKIPPED", "cancelled"), ("SKIPPED", "cancelled")]
    assert len(smtp_server.received) == 1
    campaigns.delete(T, created.row.id, "")
    with pytest.raises(NotFound):
        campaigns.get(T, created.row.id)
