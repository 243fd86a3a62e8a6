"""Composition root of the sales service."""

from __future__ import annotations

from pathlib import Path

from crm.sales.v1 import (
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
from services.sales.contact_check import ContactDirectory
from services.sales.forecast import SalesAnalytics, SalesAnalyticsServicer
from services.sales.opportunities import Opportunities, OpportunitiesServicer
from services.sales.pipelines import Pipelines, PipelinesServicer
from services.sales.quotes import Products, ProductsServicer, Quotes, QuotesServicer
from services.sales.store import OUTBOX

MIGRATIONS = Path(__file__).parent / "migrations"
NAME = "sales"


def build(settings: Settings) -> ServiceModule:
    database = Database(settings.database_url_for(NAME))
    outbox = Outbox(NAME, OUTBOX)
    contacts = ContactDirectory(settings.grpc_addr("contacts"), settings.grpc_deadline_seconds)
    return ServiceModule(
        name=NAME,
        database=database,
        migrations=MIGRATIONS,
        registrations=[
            (pipelines_pb2_grpc.add_PipelinesServiceServicer_to_server, PipelinesServicer(Pipelines(database))),
            (
                opportunities_pb2_grpc.add_OpportunitiesServiceServicer_to_server,
                OpportunitiesServicer(Opportunities(database, outbox, contacts)),
            ),
            (
                opportunities_pb2_grpc.add_SalesAnalyticsServiceServicer_to_server,
                SalesAnalyticsServicer(SalesAnalytics(database)),
            ),
            (quotes_pb2_grpc.add_ProductsServiceServicer_to_server, ProductsServicer(Products(database))),
            (quotes_pb2_grpc.add_QuotesServiceServicer_to_server, QuotesServicer(Quotes(database, outbox))),
        ],
        grpc_services=[
            pipelines_pb2.DESCRIPTOR.services_by_name["PipelinesService"].full_name,
            opportunities_pb2.DESCRIPTOR.services_by_name["OpportunitiesService"].full_name,
            opportunities_pb2.DESCRIPTOR.services_by_name["SalesAnalyticsService"].full_name,
            quotes_pb2.DESCRIPTOR.services_by_name["ProductsService"].full_name,
            quotes_pb2.DESCRIPTOR.services_by_name["QuotesService"].full_name,
        ],
        outbox=outbox,
    )
