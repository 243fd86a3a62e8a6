"""Composition root of the contacts service."""

from __future__ import annotations

from pathlib import Path

from crm.contacts.v1 import (
    activities_pb2,
    activities_pb2_grpc,
    contacts_pb2,
    contacts_pb2_grpc,
    timeline_pb2,
    timeline_pb2_grpc,
)

from crmkit.config import Settings
from crmkit.db import Database
from crmkit.events.outbox import Outbox
from crmkit.module import ServiceModule
from services.contacts.activities import Activities
from services.contacts.activities_api import ActivitiesServicer, TimelineServicer
from services.contacts.api import ContactsServicer
from services.contacts.store import OUTBOX
from services.contacts.timeline import Timeline, timeline_projection
from services.contacts.usecases import Contacts

MIGRATIONS = Path(__file__).parent / "migrations"
NAME = "contacts"


def build(settings: Settings) -> ServiceModule:
    database = Database(settings.database_url_for(NAME))
    outbox = Outbox(NAME, OUTBOX)
    servicer = ContactsServicer(Contacts(database, outbox))
    activities = ActivitiesServicer(Activities(database, outbox))
    timeline = TimelineServicer(Timeline(database))
    return ServiceModule(
        name=NAME,
        database=database,
        migrations=MIGRATIONS,
        registrations=[
            (contacts_pb2_grpc.add_ContactsServiceServicer_to_server, servicer),
            (activities_pb2_grpc.add_ActivitiesServiceServicer_to_server, activities),
            (timeline_pb2_grpc.add_TimelineServiceServicer_to_server, timeline),
        ],
        grpc_services=[
            contacts_pb2.DESCRIPTOR.services_by_name["ContactsService"].full_name,
            activities_pb2.DESCRIPTOR.services_by_name["ActivitiesService"].full_name,
            timeline_pb2.DESCRIPTOR.services_by_name["TimelineService"].full_name,
        ],
        consumers=[timeline_projection(database)],
        outbox=outbox,
    )
