"""Composition root of the marketing service."""

from __future__ import annotations

from pathlib import Path

from crm.marketing.v1 import marketing_pb2, marketing_pb2_grpc, sequences_pb2, sequences_pb2_grpc

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
from services.marketing.events import contact_projection, engagement_log, sequence_exits
from services.marketing.privacy import privacy_consumer
from services.marketing.sequences import Sequences
from services.marketing.store import OUTBOX
from services.marketing.usecases import Consent, EngagementExpiry, Segments, Templates

MIGRATIONS = Path(__file__).parent / "migrations"
NAME = "marketing"


def build(settings: Settings) -> ServiceModule:
    database = Database(settings.database_url_for(NAME))
    outbox = Outbox(NAME, OUTBOX)
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
        workers=[("segment-engagement-expiry", EngagementExpiry(database).run)],
    )
