"""Events the support service publishes. It consumes none yet."""

from __future__ import annotations

from collections.abc import Sequence

from crm.support.v1 import events_pb2
from google.protobuf import field_mask_pb2

from services.support.domain.agents import Agent
from services.support.domain.tickets import Comment, Ticket
from services.support.messages import Status, comment_to_proto, enum_value, ticket_to_proto


def ticket_created(ticket: Ticket) -> events_pb2.TicketCreated:
    return events_pb2.TicketCreated(ticket=ticket_to_proto(ticket))


def ticket_updated(ticket: Ticket, changed: Sequence[str]) -> events_pb2.TicketUpdated:
    return events_pb2.TicketUpdated(
        ticket=ticket_to_proto(ticket), changed_fields=field_mask_pb2.FieldMask(paths=list(changed))
    )


def ticket_status_changed(before: Ticket, after: Ticket) -> events_pb2.TicketStatusChanged:
    return events_pb2.TicketStatusChanged(
        ticket_id=after.id,
        from_status=enum_value(Status, before.status),
        to_status=enum_value(Status, after.status),
        ticket=ticket_to_proto(after),
    )


def ticket_assigned(before: Ticket, after: Ticket, reason: str) -> events_pb2.TicketAssigned:
    return events_pb2.TicketAssigned(
        ticket_id=after.id,
        assignee_id=after.data.assignee_id,
        previous_assignee_id=before.data.assignee_id,
        group_id=after.data.group_id,
        reason=reason,
    )


def comment_added(comment: Comment, ticket: Ticket) -> events_pb2.CommentAdded:
    return events_pb2.CommentAdded(comment=comment_to_proto(comment), external_thread_id=ticket.data.external_thread_id)


def agent_availability_changed(agent: Agent, released: Sequence[str]) -> events_pb2.AgentAvailabilityChanged:
    return events_pb2.AgentAvailabilityChanged(
        agent_id=agent.id, available=agent.data.available, released_ticket_ids=list(released)
    )
