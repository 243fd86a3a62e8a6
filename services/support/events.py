"""Events the support service publishes. It consumes none yet."""

from __future__ import annotations

from collections.abc import Sequence

from crm.support.v1 import events_pb2
from google.protobuf import field_mask_pb2

from services.support.domain.agents import Agent
from services.support.domain.sla import Alert
from services.support.domain.surveys import Survey
from services.support.domain.tickets import Comment, Ticket
from services.support.messages import (
    Priority,
    Status,
    SurveyKind,
    comment_to_proto,
    enum_value,
    ticket_to_proto,
    timestamp,
)


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


def _sla_fields(ticket: Ticket, alert: Alert, policy_id: str) -> dict[str, object]:
    return {
        "ticket_id": ticket.id,
        "target": events_pb2.SlaTargetKind.Value(alert.target),
        "due_time": timestamp(alert.due),
        "policy_id": policy_id,
    }


def sla_warning(ticket: Ticket, alert: Alert, policy_id: str) -> events_pb2.TicketSlaWarning:
    return events_pb2.TicketSlaWarning(**_sla_fields(ticket, alert, policy_id))  # type: ignore[arg-type]


def sla_breached(ticket: Ticket, alert: Alert, policy_id: str) -> events_pb2.TicketSlaBreached:
    return events_pb2.TicketSlaBreached(
        priority=enum_value(Priority, ticket.data.priority),
        **_sla_fields(ticket, alert, policy_id),  # type: ignore[arg-type]
    )


def survey_created(survey: Survey, token: str) -> events_pb2.SurveyCreated:
    return events_pb2.SurveyCreated(
        survey_id=survey.id,
        kind=SurveyKind.Value(survey.kind),
        ticket_id=survey.ticket_id,
        requester_id=survey.requester_id,
        token=token,
        expire_time=timestamp(survey.expire_time),
    )


def survey_answered(survey: Survey) -> events_pb2.SurveyAnswered:
    assert survey.answer is not None
    return events_pb2.SurveyAnswered(
        survey_id=survey.id,
        kind=SurveyKind.Value(survey.kind),
        ticket_id=survey.ticket_id,
        agent_id=survey.agent_id,
        score=survey.answer.score,
        comment=survey.answer.comment,
        requester_id=survey.requester_id,
        response_time=timestamp(survey.answer.response_time),
    )
