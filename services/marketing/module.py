"""Composition root of the marketing service."""

from __future__ import annotations

from pathlib import Path

from crm.marketing.v1 import (
    campaigns_pb2,
    campaigns_pb2_grpc,
    marketing_pb2,
    marketing_pb2_grpc,
    sequences_pb2,
    sequences_pb2_grpc,
)

from crmkit.config import Settings
from crmkit.db import Database
from crmkit.events.outbox import Outbox
from crmkit.module import ServiceModule
from services.marketing.api import (
    AudienceServicer,
    ConsentServicer,
    SegmentServicer,
    SequenceServicer,
    TemplateServicer,
)
from services.marketing.bounces import bounce_consumer
from services.marketing.campaign_api import CampaignServicer, TrackingServicer
from services.marketing.campaigns import Campaigns, CampaignSender, conversions_consumer
from services.marketing.delivery import Delivery, IntegrationsMailer
from services.marketing.events import contact_projection, engagement_log, sequence_exits
from services.marketing.privacy import privacy_consumer
from services.marketing.sequences import DeliverySender, SequenceRunner, Sequences
from services.marketing.store import OUTBOX
from services.marketing.tracking import Tracking, TrackingKey
from services.marketing.usecases import Consent, EngagementExpiry, Segments, Templates

MIGRATIONS = Path(__file__).parent / "migrations"
NAME = "marketing"
# SendEmail may wait on the tenant's SMTP server (integrations' own deadline for it is 60 s).
SEND_DEADLINE_SECONDS = 60.0


def build(settings: Settings) -> ServiceModule:
    database = Database(settings.database_url_for(NAME))
    outbox = Outbox(NAME, OUTBOX)
    module: ServiceModule  # bound below; the mailer asks it for the token key only when it sends
    key = TrackingKey(database, settings.tracking_secret, settings.public_base_url)
    mailer = IntegrationsMailer(
        settings.grpc_addr("integrations"), SEND_DEADLINE_SECONDS, lambda: module.token_issuer()
    )
    delivery = Delivery(database, outbox, mailer, key.urls)
    services = {
        marketing_pb2: ("AudienceService", "ConsentService", "SegmentService", "TemplateService"),
        campaigns_pb2: ("CampaignService", "TrackingService"),
        sequences_pb2: ("SequenceService",),
    }
    runner = SequenceRunner(
        database,
        DeliverySender(delivery),
        poll_seconds=settings.sequences_poll_seconds,
        claim_seconds=settings.sequences_claim_seconds,
    )
    module = ServiceModule(
        name=NAME,
        database=database,
        migrations=MIGRATIONS,
        registrations=[
            (marketing_pb2_grpc.add_AudienceServiceServicer_to_server, AudienceServicer(database)),
            (marketing_pb2_grpc.add_ConsentServiceServicer_to_server, ConsentServicer(Consent(database))),
            (marketing_pb2_grpc.add_SegmentServiceServicer_to_server, SegmentServicer(Segments(database))),
            (marketing_pb2_grpc.add_TemplateServiceServicer_to_server, TemplateServicer(Templates(database))),
            (campaigns_pb2_grpc.add_CampaignServiceServicer_to_server, CampaignServicer(Campaigns(database))),
            (
                campaigns_pb2_grpc.add_TrackingServiceServicer_to_server,
                TrackingServicer(Tracking(database, outbox, key)),
            ),
            (sequences_pb2_grpc.add_SequenceServiceServicer_to_server, SequenceServicer(Sequences(database))),
        ],
        grpc_services=[m.DESCRIPTOR.services_by_name[n].full_name for m, names in services.items() for n in names],
        consumers=[
            contact_projection(database),
            engagement_log(database),
            privacy_consumer(database, outbox),
            conversions_consumer(database),
            bounce_consumer(database, outbox),
            sequence_exits(database),
        ],
        outbox=outbox,
        workers=[
            ("segment-engagement-expiry", EngagementExpiry(database).run),
            (CampaignSender.NAME, CampaignSender(database, delivery).run),
            (SequenceRunner.NAME, runner.run),
        ],
    )
    return module
