"""Doing an action: each through the API of the service that owns the record (docs/adr/0062).

Contacts and support are called over gRPC (crmkit.grpcclient.service_channel) as the rule's service
principal, bound with tokens.acting_as, and with the execution's causation chain bound, so the
events those services write carry it. Email goes through this service's own Emails use case, and a
webhook call becomes a delivery of a partner subscription (signed, guarded, retried, logged).

Each action is safe to run twice, because a worker that dies after an action and before recording
it runs it again: updates set values (a repeat changes nothing), the email's idempotency key and the
webhook delivery's message id are the execution's and the action's, and a task is looked for first.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from crm.contacts.v1 import activities_pb2, activities_pb2_grpc, contacts_pb2, contacts_pb2_grpc
from crm.support.v1 import tickets_pb2, tickets_pb2_grpc
from google.protobuf import field_mask_pb2, json_format

from crmkit.db import Database, utcnow
from crmkit.errors import ServiceError
from crmkit.grpcclient import service_channel
from crmkit.ids import new_id
from crmkit.tokens import Principal
from services.integrations.automation.domain import (
    ASSIGN_OWNER,
    CALL_WEBHOOK,
    CREATE_TASK,
    SEND_EMAIL,
    UPDATE_FIELD,
    ActionFailed,
    Execution,
    Planned,
    resource_of,
)
from services.integrations.email import mime
from services.integrations.email.usecases import Emails, SendRequest
from services.integrations.webhooks import catalog
from services.integrations.webhooks import domain as webhook_rules
from services.integrations.webhooks import store as webhook_store
from services.integrations.webhooks.usecases import DeliveryWorker

T = TypeVar("T")
# What a rule may do in the tenant, and nothing more: read and write contacts (with assigning
# owners) and tickets. Not `admin`, so a rule cannot reach gateway administration or other services.
SCOPES = frozenset({"contacts:read", "contacts:write", "contacts:assign", "support:read", "support:write"})
TRANSIENT = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED)
AUTOMATION_ORIGIN = "automation"


class ServiceUnavailable(Exception):
    """The owning service did not answer: the execution is tried again later."""


def principal_for(tenant_id: str, rule_id: str) -> Principal:
    """The identity an action acts as: the rule itself (what the called services record as the
    actor), in the rule's tenant, with SCOPES, not limited to its own records."""
    return Principal(tenant_id, f"automation:{rule_id}", SCOPES)


class Performer:
    def __init__(
        self,
        database: Database,
        contacts_address: str,
        support_address: str,
        deadline_seconds: float,
        emails: Emails,
        deliveries: DeliveryWorker | None,
    ) -> None:
        self.database = database
        self.contacts_address = contacts_address
        self.support_address = support_address
        self.deadline = deadline_seconds
        self.emails = emails
        self.deliveries = deliveries
        self._channels: dict[str, grpc.Channel] = {}

    def _channel(self, address: str) -> grpc.Channel:
        if address not in self._channels:
            self._channels[address] = service_channel(address, self.deadline)
        return self._channels[address]

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()

    def perform(self, execution: Execution, index: int, planned: Planned) -> str:
        """Do one planned action (the caller bound the principal and causation); what it produced."""
        resource = resource_of(execution.event_type)
        values = planned.values
        if planned.type == ASSIGN_OWNER:
            return self._update(resource, execution.subject_id, {_owner_path(resource): values["owner"]})
        if planned.type == UPDATE_FIELD:
            return self._update(resource, execution.subject_id, {values["field"]: values["value"]})
        if planned.type == CREATE_TASK:
            return self._task(execution, values)
        if planned.type == SEND_EMAIL:
            return self._email(execution, index, values)
        if planned.type == CALL_WEBHOOK:
            return self._webhook(execution, index, values)
        raise ActionFailed(f"unknown action {planned.type}")  # pragma: no cover - validated on write

    # --- records ---

    def _update(self, resource: str, record_id: str, fields: dict[str, Any]) -> str:
        if resource == "contact":
            stub = contacts_pb2_grpc.ContactsServiceStub(self._channel(self.contacts_address))
            patch, mask = self._patch(contacts_pb2.Contact(), fields, lambda: self._contact(record_id))
            _call(
                "update the contact",
                lambda: stub.UpdateContact(
                    contacts_pb2.UpdateContactRequest(
                        id=record_id, contact=patch, update_mask=field_mask_pb2.FieldMask(paths=mask)
                    )
                ),
            )
            return f"contacts/{record_id}"
        tickets = tickets_pb2_grpc.TicketsServiceStub(self._channel(self.support_address))
        ticket_patch, ticket_mask = self._patch(tickets_pb2.Ticket(), fields, dict)
        _call(
            "update the ticket",
            lambda: tickets.UpdateTicket(
                tickets_pb2.UpdateTicketRequest(
                    id=record_id, ticket=ticket_patch, update_mask=field_mask_pb2.FieldMask(paths=ticket_mask)
                )
            ),
        )
        return f"tickets/{record_id}"

    def _contact(self, contact_id: str) -> dict[str, Any]:
        stub = contacts_pb2_grpc.ContactsServiceStub(self._channel(self.contacts_address))
        found = _call("read the contact", lambda: stub.GetContact(contacts_pb2.GetContactRequest(id=contact_id)))
        return json_format.MessageToDict(found)

    @staticmethod
    def _patch(message: T, fields: dict[str, Any], current: Callable[[], dict[str, Any]]) -> tuple[T, list[str]]:
        """The message with the API-named fields set, and its update mask (snake_case paths).
        A custom field is merged into the record's current ones (the mask names them all)."""
        document: dict[str, Any] = {}
        for name, value in fields.items():
            if name.startswith("customFields."):
                merged = dict(current().get("customFields", {}))
                merged[name.split(".", 1)[1]] = value
                document["customFields"] = merged
            elif name == "tags":
                document["tags"] = [t.strip() for t in str(value).split(",") if t.strip()]
            else:
                document[name] = value
        try:
            json_format.ParseDict(document, message)  # type: ignore[arg-type]
        except json_format.ParseError as exc:
            raise ActionFailed(f"not a valid value: {exc}") from None
        descriptor = message.DESCRIPTOR  # type: ignore[attr-defined]
        by_json = {f.json_name: f.name for f in descriptor.fields}
        return message, sorted(by_json[name] for name in document)

    def _task(self, execution: Execution, values: dict[str, Any]) -> str:
        stub = activities_pb2_grpc.ActivitiesServiceStub(self._channel(self.contacts_address))
        contact_id, subject = values["contact_id"], values["subject"]
        # Look first: a worker that died after creating the task must not create a second one.
        wanted = (
            f"kind = TASK AND contactIds : {json.dumps(contact_id)} AND subject = {json.dumps(subject)} "
            f'AND createTime >= "{_rfc3339(execution.create_time)}"'
        )
        found = _call(
            "look for the task",
            lambda: stub.ListActivities(activities_pb2.ListActivitiesRequest(filter=wanted, page_size=1)),
        )
        if found.activities:
            return f"activities/{found.activities[0].id}"
        task = activities_pb2.Activity(
            kind=activities_pb2.Activity.TASK,
            subject=subject,
            body=values["body"],
            contact_ids=[contact_id],
            owner_id=values["owner_id"],
        )
        if values.get("due_in_hours"):
            task.due_time.FromDatetime(execution.event_time + dt.timedelta(hours=int(values["due_in_hours"])))
        created = _call(
            "create the task", lambda: stub.CreateActivity(activities_pb2.CreateActivityRequest(activity=task))
        )
        return f"activities/{created.id}"

    # --- email and webhooks ---

    def _email(self, execution: Execution, index: int, values: dict[str, Any]) -> str:
        outgoing = mime.Outgoing(
            from_address="",
            to_addresses=tuple(values["to"]),
            cc_addresses=(),
            subject=values["subject"],
            text_body=values["text"],
            html_body=values["html"],
            headers={},
            in_reply_to="",
            references=(),
            message_id="",
        )
        request = SendRequest(
            idempotency_key=f"automation:{execution.id}:{index}",
            connection_id=values["connection_id"],
            outgoing=outgoing,
            origin=AUTOMATION_ORIGIN,
            origin_ref=execution.rule_id,
        )
        principal = principal_for(execution.tenant_id, execution.rule_id)
        try:
            delivery = self.emails.send(principal, request)
        except ServiceError as exc:
            raise ActionFailed(exc.message) from None
        if delivery.status == "FAILED":
            raise ActionFailed(f"email delivery {delivery.id} failed: {delivery.error}")
        return f"emailDeliveries/{delivery.id}"

    def _webhook(self, execution: Execution, index: int, values: dict[str, Any]) -> str:
        message_id = f"msg_{execution.id}_{index}"
        public = catalog.PublicEvent("automation.rule_triggered", values["data"])
        payload = catalog.body(message_id, public, execution.tenant_id, execution.event_time).decode()
        with self.database.transaction() as session:
            webhook = webhook_store.get_webhook(session, execution.tenant_id, values["webhook_id"])
            if webhook is None:
                raise ActionFailed(f"no webhook subscription {values['webhook_id']}")
            if webhook.state != webhook_rules.ACTIVE:
                raise ActionFailed(f"webhook subscription {webhook.id} is disabled")
            scope = catalog.scope_of(execution.event_type)
            if scope not in webhook.read_scopes:  # the partner could not have subscribed to this data
                raise ActionFailed(f"webhook subscription {webhook.id} may not receive {execution.event_type} data")
            now = utcnow()
            delivery = webhook_store.Delivery(
                new_id(),
                execution.tenant_id,
                webhook.id,
                message_id,
                public.type,
                payload,
                webhook_rules.PENDING,
                0,
                now,
                now,
                now,
            )
            if not webhook_store.add_delivery_once(session, delivery):
                return f"webhookDeliveries/{message_id}"
            if self.deliveries is not None:
                self.deliveries.notify_on_commit(session)
        return f"webhookDeliveries/{delivery.id}"


def _owner_path(resource: str) -> str:
    return "ownerId" if resource == "contact" else "assigneeId"


def _rfc3339(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _call(what: str, call: Callable[[], T]) -> T:
    try:
        return call()
    except grpc.RpcError as exc:
        code = exc.code()  # type: ignore[attr-defined]
        if code in TRANSIENT:
            raise ServiceUnavailable(f"could not {what}: {code.name}") from None
        raise ActionFailed(f"could not {what}: {code.name}: {exc.details()}") from None  # type: ignore[attr-defined]
