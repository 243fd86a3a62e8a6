"""Composition root of the sales service."""

from __future__ import annotations

from pathlib import Path

from crm.sales.v1 import leads_pb2, leads_pb2_grpc

from crmkit.config import Settings
from crmkit.db import Database
from crmkit.events.outbox import Outbox
from crmkit.module import ServiceModule
from services.sales.contacts_client import ContactsDirectory
from services.sales.lead_api import AssignmentRulesServicer, LeadsServicer, ScoringRulesServicer, WebFormsServicer
from services.sales.leads import AssignmentRules, Leads, ScoreDecay, Scoring, WebForms, engagement_consumer
from services.sales.privacy import privacy_consumer
from services.sales.store import OUTBOX

MIGRATIONS = Path(__file__).parent / "migrations"
NAME = "sales"
# How often the decay worker refreshes stored lead scores (docs/adr/0042).
SCORE_DECAY_SECONDS = 300.0


def build(settings: Settings) -> ServiceModule:
    database = Database(settings.database_url_for(NAME))
    outbox = Outbox(NAME, OUTBOX)
    directory = ContactsDirectory(settings.grpc_addr("contacts"), settings.grpc_deadline_seconds)
    leads = Leads(database, outbox, directory)
    lead_services = ("LeadsService", "WebFormsService", "AssignmentRulesService", "ScoringRulesService")
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
        ],
        grpc_services=[leads_pb2.DESCRIPTOR.services_by_name[name].full_name for name in lead_services],
        consumers=[engagement_consumer(database, leads), privacy_consumer(database, outbox)],
        outbox=outbox,
        workers=[("lead-score-decay", ScoreDecay(leads, SCORE_DECAY_SECONDS).run)],
    )
