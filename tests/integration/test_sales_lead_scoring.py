"""Lead scoring from marketing's real engagement events: published through marketing's outbox and
relay to RabbitMQ, consumed by the sales consumer into lead scores; the threshold crossing is
reported once, a redelivery changes nothing, and decay reports the fall below the threshold."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from crm.events.v1.envelope_pb2 import Envelope
from crm.marketing.v1 import events_pb2 as marketing
from crm.sales.v1 import events_pb2, leads_pb2, leads_pb2_grpc
from google.protobuf import field_mask_pb2

from crmkit.db import utcnow
from crmkit.events.outbox import Outbox
from crmkit.events.rabbitmq import RabbitBus
from crmkit.events.relay import OutboxRelay
from crmkit.events.transport import OutgoingMessage
from services.marketing.store import OUTBOX as MARKETING_OUTBOX
from services.sales.leads import SCORING_CONSUMER, Leads
from services.sales.store import OUTBOX
from tests.integration.events_support import RunningConsumer, consumed, wait_until
from tests.integration.sales_helpers import MANAGER_A, as_


@pytest.fixture
def bus(amqp_url, amqp_prefix):
    return RabbitBus(amqp_url, amqp_prefix, retry_delays_ms=(50, 100, 200), prefetch=8)


def engagement(email: str) -> marketing.Engagement:
    found = marketing.Engagement(email=email, campaign_name="Launch", contact_id="C1")
    found.occur_time.FromDatetime(utcnow())
    return found


def crossings(sales, lead_id: str) -> list[events_pb2.LeadScoreThresholdCrossed]:
    return [
        events_pb2.LeadScoreThresholdCrossed.FromString(e.data)
        for e in sales.events(lead_id)
        if e.type.endswith("LeadScoreThresholdCrossed")
    ]


def test_engagement_events_raise_the_score_and_the_crossing_is_reported_once(sales, migrated, bus):
    leads = sales.stub(leads_pb2_grpc.LeadsServiceStub)
    scoring = sales.stub(leads_pb2_grpc.ScoringRulesServiceStub)
    scoring.UpdateScoringSettings(
        leads_pb2.UpdateScoringSettingsRequest(
            scoring_settings=leads_pb2.ScoringSettings(threshold=12),
            update_mask=field_mask_pb2.FieldMask(paths=["threshold"]),
        ),
        metadata=as_(MANAGER_A),
    )
    scoring.CreateScoringRule(
        leads_pb2.CreateScoringRuleRequest(
            scoring_rule=leads_pb2.ScoringRule(attribute="industry", value="saas", points=3)
        ),
        metadata=as_(MANAGER_A),
    )
    lead = leads.CreateLead(
        leads_pb2.CreateLeadRequest(lead=leads_pb2.Lead(given_name="Eve", email="eve@example.com", industry="SaaS")),
        metadata=as_(MANAGER_A),
    )
    other = leads.CreateLead(
        leads_pb2.CreateLeadRequest(lead=leads_pb2.Lead(given_name="Tom", email="tom@example.com")),
        metadata=as_(MANAGER_A),
    )
    assert lead.score == 3 and other.score == 0

    # Marketing writes its events the way it always does: an outbox row, relayed to the broker.
    marketing_db = migrated("marketing")
    outbox = Outbox("marketing", MARKETING_OUTBOX)
    with marketing_db.transaction() as session:
        outbox.add(
            session, marketing.EmailOpened(engagement=engagement("EVE@example.com")), tenant_id="TENANT_A", subject="M1"
        )
        outbox.add(
            session,
            marketing.EmailClicked(engagement=engagement("eve@example.com")),
            tenant_id="TENANT_A",
            subject="M1",
        )
        outbox.add(
            session,
            marketing.FormSubmitted(engagement=engagement("eve@example.com"), form_name="Demo"),
            tenant_id="TENANT_B",  # another tenant's lead of the same address: not ours
            subject="M2",
        )
    consumer = sales.module.consumers[0]
    assert consumer.name == SCORING_CONSUMER
    bus.declare(consumer.subscription)
    publisher = bus.publisher()
    running = RunningConsumer(bus, consumer.subscription, consumer.handle_batch)
    try:
        relay = OutboxRelay(marketing_db, MARKETING_OUTBOX, bus.publisher(), source="marketing")
        assert relay.publish_batch() == 3
        wait_until(lambda: consumed(SCORING_CONSUMER, "processed") >= 3 and _score(leads, lead.id) == 9, what="scoring")
        assert crossings(sales, lead.id) == []

        with marketing_db.transaction() as session:
            outbox.add(
                session,
                marketing.EmailClicked(engagement=engagement("eve@example.com")),
                tenant_id="TENANT_A",
                subject="M1",
            )
        assert relay.publish_batch() == 1
        wait_until(lambda: _score(leads, lead.id) == 14, what="the second click")
        [crossed] = crossings(sales, lead.id)
        assert crossed.upward and crossed.threshold == 12 and crossed.previous_score == 9 and crossed.lead.score == 14

        # Every event delivered again (a relay that crashed before marking them sent) changes nothing.
        duplicates = consumed(SCORING_CONSUMER, "duplicate")
        with marketing_db.transaction() as session:
            payloads = session.execute(sa.select(MARKETING_OUTBOX.c.payload)).scalars().all()
        again = [Envelope.FromString(p) for p in payloads]
        publisher.publish([OutgoingMessage(e.id, e.type, e.SerializeToString()) for e in again])
        wait_until(lambda: consumed(SCORING_CONSUMER, "duplicate") >= duplicates + 4, what="the redeliveries")
    finally:
        running.close()
        publisher.close()
    assert _score(leads, lead.id) == 14 and len(crossings(sales, lead.id)) == 1
    assert _score(leads, other.id) == 0
    history = leads.GetLead(leads_pb2.GetLeadRequest(id=lead.id), metadata=as_(MANAGER_A)).history
    assert [h.score_delta for h in history if h.kind == "score" and h.score_delta] == [3, 1, 5, 5]
    assert any(h.message == "email clicked (Launch) +5" for h in history)

    # A year on, the engagement has decayed: the decay pass reports the fall below, once.
    later = Leads(sales.database, Outbox("sales", OUTBOX), clock=lambda: utcnow() + dt.timedelta(days=365))
    assert later.refresh_scores() >= 1
    assert later.refresh_scores() == 0
    down = crossings(sales, lead.id)
    assert [c.upward for c in down] == [True, False] and down[1].lead.score == 3


def _score(leads, lead_id: str) -> int:
    return int(leads.GetLead(leads_pb2.GetLeadRequest(id=lead_id), metadata=as_(MANAGER_A)).score)
