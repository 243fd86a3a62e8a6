"""Wiring of automation rules into the integrations service (called from its composition root)."""

from __future__ import annotations

import datetime as dt

from crm.integrations.v1 import automation_pb2, automation_pb2_grpc

from crmkit.config import Settings
from crmkit.module import ServiceModule
from services.integrations.automation.actions import Performer
from services.integrations.automation.api import AutomationServicer
from services.integrations.automation.events import automation_triggers
from services.integrations.automation.store import finished_executions
from services.integrations.automation.usecases import Automation, AutomationWorker
from services.integrations.email.usecases import Emails
from services.integrations.webhooks.usecases import DeliveryWorker


def add_automation(
    module: ServiceModule, settings: Settings, emails: Emails, deliveries: DeliveryWorker | None
) -> None:
    database = module.database
    performer = Performer(
        database,
        settings.grpc_addr("contacts"),
        settings.grpc_addr("support"),
        settings.grpc_deadline_seconds,
        emails,
        deliveries,
    )
    # Actions act as the rule's service principal, minted with the process's internal-token key,
    # which the target hands the module when it starts it (module.tokens).
    worker = AutomationWorker(database, performer, lambda: module.tokens, settings.automation_poll_seconds)
    module.registrations.append(
        (automation_pb2_grpc.add_AutomationServiceServicer_to_server, AutomationServicer(Automation(database)))
    )
    module.grpc_services.append(automation_pb2.DESCRIPTOR.services_by_name["AutomationService"].full_name)
    module.consumers.append(automation_triggers(database, worker, settings.automation_max_depth))
    module.workers.append(("automation", worker.run))
    module.retained.append(finished_executions(dt.timedelta(days=settings.automation_retention_days)))
