"""Composition root of the marketing service."""

from __future__ import annotations

from pathlib import Path

from crm.marketing.v1 import marketing_pb2, marketing_pb2_grpc, sequences_pb2, sequences_pb2_grpc

from crmkit.config import Settings
from crmkit.db import Database
from crmkit.events.outbox import Outbox
from crmkit.module import ServiceModule
from crmkit.tokens import InternalTokens
from services.marketing.api import (
    AudienceServicer,
    ConsentServicer,
    SegmentServicer,
    SequenceServicer,
    TemplateServicer,
)
from services.marketing.delivery import Delivery, IntegrationsMailer
from services.marketing.events import contact_projection, engagement_log, sequence_exits
from services.marketing.privacy import privacy_consumer
from services.marketing.sequences import DeliverySender, SequenceRunner, Sequences
from services.marketing.store import OUTBOX
from services.marketing.tracking import TrackingKey
from services.marketing.usecases import Consent, EngagementExpiry, Segments, Templates

MIGRATIONS = Path(__file__).parent / "migrations"
NAME = "marketing"
# integrations' SendEmail deadline (its proto's deadline_seconds): an SMTP hand-over can be slow.
SEND_DEADLINE_SECONDS = 60.0


def build(settings: Settings) -> ServiceModule:
    database = Database(settings.database_url_for(NAME))
    outbox = Outbox(NAME, OUTBOX)
    # Background sends call integrations as the tenant's marketing service principal, with the
    # token issuer the target hands over before it starts the workers (docs/adr/0052).
    issuers: list[InternalTokens] = []
    mailer = IntegrationsMailer(settings.grpc_addr("integrations"), SEND_DEADLINE_SECONDS, lambda: issuers[0])
    tracking_key = TrackingKey(database, settings.tracking_secret, settings.public_base_url)
    delivery = Delivery(database, outbox, mailer, tracking_key.urls)
    runner = SequenceRunner(
        database,
        DeliverySender(delivery),
        poll_seconds=settings.sequences_poll_seconds,
        claim_seconds=settings.sequences_claim_seconds,
    )
    return ServiceModule(
        name=NAME,
        database=database,
        migrations=MIGRATIONS,
        registrations=[
            (marketing_pb2_grpc.add_AudienceServiceServicer_to_server, AudienceServicer(database)),
            (marketing_pb2_grpc.add_ConsentServiceServicer_to_server, ConsentServicer(Consent(database))),
            (marketing_pb2_grpc.add_SegmentServiceServicer_to_server, SegmentServicer(Segments(database))),
            (marketing_pb2_grpc.add_TemplateServiceServicer_to_server, TemplateServicer(Templates(database))),
            (sequences_pb2_grpc.add_SequenceServiceServicer_to_server, SequenceServicer(Sequences(database))),
        ],
        grpc_services=[
            *(
                marketing_pb2.DESCRIPTOR.services_by_name[name].full_name
                for name in ("AudienceService", "ConsentService", "SegmentService", "TemplateService")
            ),
            sequences_pb2.DESCRIPTOR.services_by_name["SequenceService"].full_name,
        ],
        consumers=[
            contact_projection(database),
            engagement_log(database),
            privacy_consumer(database, outbox),
            sequence_exits(database),
        ],
        outbox=outbox,
        workers=[
            ("segment-engagement-expiry", EngagementExpiry(database).run),
            (SequenceRunner.NAME, runner.run),
        ],
        use_tokens=issuers.append,
    )
