"""Composition root of the sales service."""

from __future__ import annotations

from pathlib import Path

from crm.sales.v1 import (
    leads_pb2,
    leads_pb2_grpc,
    opportunities_pb2,
    opportunities_pb2_grpc,
    pipelines_pb2,
    pipelines_pb2_grpc,
    quotes_pb2,
    quotes_pb2_grpc,
)

from crmkit.config import Settings
from crmkit.db import Database
from crmkit.events.outbox import Outbox
from crmkit.module import ServiceModule
from services.sales.contacts_client import ContactsDirectory
from services.sales.forecast import SalesAnalytics, SalesAnalyticsServicer
from services.sales.lead_api import AssignmentRulesServicer, LeadsServicer, ScoringRulesServicer, WebFormsServicer
from services.sales.leads import AssignmentRules, Leads, ScoreDecay, Scoring, WebForms, engagement_consumer
from services.sales.opportunities import Opportunities, OpportunitiesServicer
from services.sales.pipelines import Pipelines, PipelinesServicer
from services.sales.privacy import privacy_consumer
from services.sales.quotes import Products, ProductsServicer, Quotes, QuotesServicer
from services.sales.store import OUTBOX

MIGRATIONS = Path(__file__).parent / "migrations"
NAME = "sales"
# How often the decay worker refreshes stored lead scores (docs/adr/0042).
SCORE_DECAY_SECONDS = 300.0
SERVICES = {
    leads_pb2: ("LeadsService", "WebFormsService", "AssignmentRulesService", "ScoringRulesService"),
    pipelines_pb2: ("PipelinesService",),
    opportunities_pb2: ("OpportunitiesService", "SalesAnalyticsService"),
    quotes_pb2: ("ProductsService", "QuotesService"),
}


def build(settings: Settings) -> ServiceModule:
    database = Database(settings.database_url_for(NAME))
    outbox = Outbox(NAME, OUTBOX)
    contacts_address, deadline = settings.grpc_addr("contacts"), settings.grpc_deadline_seconds
    directory = ContactsDirectory(contacts_address, deadline)
    opportunities = Opportunities(database, outbox, directory)
    leads = Leads(database, outbox, directory, open_opportunity=opportunities.open_for_lead)
    return ServiceModule(
        name=NAME,
        database=database,
        migrations=MIGRATIONS,
        registrations=[
            (leads_pb2_grpc.add_LeadsServiceServicer_to_server, LeadsServicer(leads)),
            (leads_pb2_grpc.add_WebFormsServiceServicer_to_server, WebFormsServicer(WebForms(database, leads))),
            (
                leads_pb2_grpc.add_AssignmentRulesServiceServicer_to_server,
                AssignmentRulesServicer(AssignmentRules(database)),
            ),
            (leads_pb2_grpc.add_ScoringRulesServiceServicer_to_server, ScoringRulesServicer(Scoring(database))),
            (pipelines_pb2_grpc.add_PipelinesServiceServicer_to_server, PipelinesServicer(Pipelines(database))),
            (opportunities_pb2_grpc.add_OpportunitiesServiceServicer_to_server, OpportunitiesServicer(opportunities)),
            (
                opportunities_pb2_grpc.add_SalesAnalyticsServiceServicer_to_server,
                SalesAnalyticsServicer(SalesAnalytics(database)),
            ),
            (quotes_pb2_grpc.add_ProductsServiceServicer_to_server, ProductsServicer(Products(database))),
            (quotes_pb2_grpc.add_QuotesServiceServicer_to_server, QuotesServicer(Quotes(database, outbox))),
        ],
        grpc_services=[m.DESCRIPTOR.services_by_name[n].full_name for m, names in SERVICES.items() for n in names],
        consumers=[engagement_consumer(database, leads), privacy_consumer(database, outbox)],
        outbox=outbox,
        workers=[("lead-score-decay", ScoreDecay(leads, SCORE_DECAY_SECONDS).run)],
    )
