"""Composition root of the support service."""

from __future__ import annotations

from pathlib import Path

from crm.support.v1 import (
    agents_pb2,
    agents_pb2_grpc,
    articles_pb2,
    articles_pb2_grpc,
    metrics_pb2,
    metrics_pb2_grpc,
    sla_pb2,
    sla_pb2_grpc,
    surveys_pb2,
    surveys_pb2_grpc,
    tickets_pb2,
    tickets_pb2_grpc,
)

from crmkit.config import Settings
from crmkit.db import Database
from crmkit.events.outbox import Outbox
from crmkit.module import ServiceModule
from services.support.api import (
    AgentsServicer,
    ArticlesServicer,
    SlaPoliciesServicer,
    SupportMetricsServicer,
    SurveysServicer,
    TicketsServicer,
)
from services.support.contact_merges import contact_merges
from services.support.intake import email_intake
from services.support.privacy import privacy_consumer
from services.support.store import OUTBOX
from services.support.usecases import Agents, Articles, SlaMonitor, SlaPolicies, SupportMetrics, Surveys, Tickets

MIGRATIONS = Path(__file__).parent / "migrations"
NAME = "support"


def build(settings: Settings) -> ServiceModule:
    database = Database(settings.database_url_for(NAME))
    outbox = Outbox(NAME, OUTBOX)
    surveys = Surveys(database, outbox, settings.survey_secret)
    tickets = Tickets(database, outbox, surveys=surveys)
    return ServiceModule(
        name=NAME,
        database=database,
        migrations=MIGRATIONS,
        registrations=[
            (tickets_pb2_grpc.add_TicketsServiceServicer_to_server, TicketsServicer(tickets)),
            (agents_pb2_grpc.add_AgentsServiceServicer_to_server, AgentsServicer(Agents(database, outbox))),
            (sla_pb2_grpc.add_SlaPoliciesServiceServicer_to_server, SlaPoliciesServicer(SlaPolicies(database))),
            (articles_pb2_grpc.add_ArticlesServiceServicer_to_server, ArticlesServicer(Articles(database))),
            (
                metrics_pb2_grpc.add_SupportMetricsServiceServicer_to_server,
                SupportMetricsServicer(SupportMetrics(database)),
            ),
            (surveys_pb2_grpc.add_SurveysServiceServicer_to_server, SurveysServicer(surveys)),
        ],
        grpc_services=[
            tickets_pb2.DESCRIPTOR.services_by_name["TicketsService"].full_name,
            agents_pb2.DESCRIPTOR.services_by_name["AgentsService"].full_name,
            sla_pb2.DESCRIPTOR.services_by_name["SlaPoliciesService"].full_name,
            articles_pb2.DESCRIPTOR.services_by_name["ArticlesService"].full_name,
            metrics_pb2.DESCRIPTOR.services_by_name["SupportMetricsService"].full_name,
            surveys_pb2.DESCRIPTOR.services_by_name["SurveysService"].full_name,
        ],
        consumers=[
            contact_merges(database, outbox),
            email_intake(database, tickets),
            privacy_consumer(database, outbox),
        ],
        outbox=outbox,
        workers=[("sla-scheduler", SlaMonitor(database, outbox).run)],
    )
