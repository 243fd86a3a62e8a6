"""Composition root of the contacts service."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from crm.contacts.v1 import (
    accounts_pb2,
    accounts_pb2_grpc,
    activities_pb2,
    activities_pb2_grpc,
    contacts_pb2,
    contacts_pb2_grpc,
    custom_fields_pb2,
    custom_fields_pb2_grpc,
    duplicates_pb2,
    duplicates_pb2_grpc,
    imports_pb2,
    imports_pb2_grpc,
    privacy_pb2,
    privacy_pb2_grpc,
    timeline_pb2,
    timeline_pb2_grpc,
)

from crmkit.config import Settings
from crmkit.db import Database
from crmkit.events.outbox import Outbox
from crmkit.module import ServiceModule, every
from services.contacts import merging
from services.contacts.activities import Activities
from services.contacts.activities_api import ActivitiesServicer, TimelineServicer
from services.contacts.api import ContactsServicer
from services.contacts.api_accounts import AccountsServicer, CustomFieldsServicer
from services.contacts.duplicates_api import DuplicatesServicer
from services.contacts.imports import ImportJobs, ImportWorker
from services.contacts.imports_api import ImportJobsServicer
from services.contacts.privacy import PrivacyRequests
from services.contacts.privacy_api import PrivacyRequestsServicer
from services.contacts.store import OUTBOX
from services.contacts.timeline import Timeline, timeline_projection
from services.contacts.timeline_store import repoint_contact
from services.contacts.usecases import Contacts
from services.contacts.usecases_accounts import Accounts, CustomFieldDefinitions

MIGRATIONS = Path(__file__).parent / "migrations"
NAME = "contacts"


def build(settings: Settings) -> ServiceModule:
    database = Database(settings.database_url_for(NAME))
    outbox = Outbox(NAME, OUTBOX)
    servicer = ContactsServicer(Contacts(database, outbox))
    imports = ImportJobsServicer(ImportJobs(database), database)
    activities = ActivitiesServicer(Activities(database, outbox))
    timeline = TimelineServicer(Timeline(database))
    # Merging moves what other modules keep about a contact: the timeline's and activities' links.
    merges = merging.Merges(database, outbox, repointers=[*merging.REPOINTERS, repoint_contact])
    duplicates = DuplicatesServicer(merges, merging.DuplicateScans(database))
    privacy = PrivacyRequests(database, outbox)
    return ServiceModule(
        name=NAME,
        database=database,
        migrations=MIGRATIONS,
        registrations=[
            (contacts_pb2_grpc.add_ContactsServiceServicer_to_server, servicer),
            (accounts_pb2_grpc.add_AccountsServiceServicer_to_server, AccountsServicer(Accounts(database, outbox))),
            (
                custom_fields_pb2_grpc.add_CustomFieldsServiceServicer_to_server,
                CustomFieldsServicer(CustomFieldDefinitions(database)),
            ),
            (imports_pb2_grpc.add_ImportJobsServiceServicer_to_server, imports),
            (activities_pb2_grpc.add_ActivitiesServiceServicer_to_server, activities),
            (timeline_pb2_grpc.add_TimelineServiceServicer_to_server, timeline),
            (duplicates_pb2_grpc.add_DuplicatesServiceServicer_to_server, duplicates),
            (privacy_pb2_grpc.add_PrivacyRequestsServiceServicer_to_server, PrivacyRequestsServicer(privacy)),
        ],
        grpc_services=[
            contacts_pb2.DESCRIPTOR.services_by_name["ContactsService"].full_name,
            accounts_pb2.DESCRIPTOR.services_by_name["AccountsService"].full_name,
            custom_fields_pb2.DESCRIPTOR.services_by_name["CustomFieldsService"].full_name,
            imports_pb2.DESCRIPTOR.services_by_name["ImportJobsService"].full_name,
            activities_pb2.DESCRIPTOR.services_by_name["ActivitiesService"].full_name,
            timeline_pb2.DESCRIPTOR.services_by_name["TimelineService"].full_name,
            duplicates_pb2.DESCRIPTOR.services_by_name["DuplicatesService"].full_name,
            privacy_pb2.DESCRIPTOR.services_by_name["PrivacyRequestsService"].full_name,
        ],
        # The timeline projection, and the other services' answers to privacy requests (ADR 48).
        consumers=[timeline_projection(database), privacy.consumer()],
        outbox=outbox,
        # CSV imports run here, one job at a time per process; leases hand a crashed one on (ADR 38).
        workers=[
            ("contact-imports", ImportWorker(database, outbox).run),
            ("duplicate-scans", merging.DuplicateScanner(database).run),
            (
                "privacy-reask",
                every(
                    min(settings.privacy_reask_seconds, 600.0),
                    lambda: privacy.reask(dt.timedelta(seconds=settings.privacy_reask_seconds)),
                    "asking again for unanswered privacy requests",
                ),
            ),
        ],
    )
