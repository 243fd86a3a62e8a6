"""Composition root of the contacts service."""

from __future__ import annotations

from pathlib import Path

from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc, duplicates_pb2, duplicates_pb2_grpc

from crmkit.config import Settings
from crmkit.db import Database
from crmkit.events.outbox import Outbox
from crmkit.module import ServiceModule
from services.contacts import merging
from services.contacts.api import ContactsServicer
from services.contacts.duplicates_api import DuplicatesServicer
from services.contacts.store import OUTBOX
from services.contacts.usecases import Contacts

MIGRATIONS = Path(__file__).parent / "migrations"
NAME = "contacts"


def build(settings: Settings) -> ServiceModule:
    database = Database(settings.database_url_for(NAME))
    outbox = Outbox(NAME, OUTBOX)
    servicer = ContactsServicer(Contacts(database, outbox))
    # Other modules' re-pointers (activities, account associations) are appended here.
    merges = merging.Merges(database, outbox, repointers=[*merging.REPOINTERS])
    duplicates = DuplicatesServicer(merges, merging.DuplicateScans(database))
    return ServiceModule(
        name=NAME,
        database=database,
        migrations=MIGRATIONS,
        registrations=[
            (contacts_pb2_grpc.add_ContactsServiceServicer_to_server, servicer),
            (duplicates_pb2_grpc.add_DuplicatesServiceServicer_to_server, duplicates),
        ],
        grpc_services=[
            contacts_pb2.DESCRIPTOR.services_by_name["ContactsService"].full_name,
            duplicates_pb2.DESCRIPTOR.services_by_name["DuplicatesService"].full_name,
        ],
        outbox=outbox,
        workers=[("duplicate-scans", merging.DuplicateScanner(database).run)],
    )
