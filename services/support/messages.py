"""Support protobuf <-> domain, shared by the gRPC servicers and the events the service publishes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from crm.support.v1 import agents_pb2, articles_pb2, metrics_pb2, sla_pb2, surveys_pb2, tickets_pb2
from google.protobuf import duration_pb2, timestamp_pb2

from services.support.domain.agents import Agent, AgentFields, Group
from services.support.domain.articles import Article, ArticleFields, Category
from services.support.domain.metrics import Report, Row
from services.support.domain.sla import SlaPolicy, Target
from services.support.domain.surveys import Survey
from services.support.domain.tickets import Comment, HistoryEntry, Ticket, TicketFields

Priority = tickets_pb2.Ticket.Priority
Status = tickets_pb2.Ticket.Status
Channel = tickets_pb2.Ticket.Channel
Visibility = tickets_pb2.Comment.Visibility
AuthorType = tickets_pb2.Comment.AuthorType


def enum_name(enum: object, value: int) -> str:
    """'' for the zero (UNSPECIFIED) value, else the value's name."""
    return "" if value == 0 else str(enum.Name(value))  # type: ignore[attr-defined]


def enum_value(enum: object, name: str) -> int:
    return 0 if not name else int(enum.Value(name))  # type: ignore[attr-defined]


def timestamp(value: dt.datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def ticket_fields_from_proto(message: tickets_pb2.Ticket) -> TicketFields:
    return TicketFields(
        subject=message.subject,
        description=message.description,
        requester_id=message.requester_id,
        priority=enum_name(Priority, message.priority),
        status=enum_name(Status, message.status),
        channel=enum_name(Channel, message.channel),
        tags=tuple(message.tags),
        assignee_id=message.assignee_id,
        group_id=message.group_id,
        required_skills=tuple(message.required_skills),
        customer_tier=message.customer_tier,
        external_thread_id=message.external_thread_id,
    )


def ticket_to_proto(
    ticket: Ticket,
    history: Sequence[HistoryEntry] = (),
    due: tuple[dt.datetime | None, dt.datetime | None] = (None, None),
) -> tickets_pb2.Ticket:
    data = ticket.data
    message = tickets_pb2.Ticket(
        id=ticket.id,
        subject=data.subject,
        description=data.description,
        requester_id=data.requester_id,
        priority=enum_value(Priority, data.priority),
        status=enum_value(Status, data.status),
        channel=enum_value(Channel, data.channel),
        tags=data.tags,
        assignee_id=data.assignee_id,
        group_id=data.group_id,
        required_skills=data.required_skills,
        customer_tier=data.customer_tier,
        external_thread_id=data.external_thread_id,
        create_time=timestamp(ticket.create_time),
        update_time=timestamp(ticket.update_time),
        first_response_time=timestamp(ticket.first_response_time),
        solve_time=timestamp(ticket.solve_time),
        reopen_count=ticket.reopen_count,
        first_response_due_time=timestamp(due[0]),
        resolution_due_time=timestamp(due[1]),
        history=[history_to_proto(h) for h in history],
        etag=ticket.etag,
    )
    return message


def history_to_proto(entry: HistoryEntry) -> tickets_pb2.TicketHistoryEntry:
    return tickets_pb2.TicketHistoryEntry(
        time=timestamp(entry.time), kind=entry.kind, actor=entry.actor, message=entry.message
    )


def comment_to_proto(comment: Comment) -> tickets_pb2.Comment:
    return tickets_pb2.Comment(
        id=comment.id,
        ticket_id=comment.ticket_id,
        body=comment.body,
        visibility=enum_value(Visibility, comment.visibility),
        author_type=enum_value(AuthorType, comment.author_type),
        author_id=comment.author_id,
        external_message_id=comment.external_message_id,
        in_reply_to=comment.in_reply_to,
        create_time=timestamp(comment.create_time),
    )


def agent_fields_from_proto(message: agents_pb2.Agent) -> AgentFields:
    return AgentFields(
        display_name=message.display_name,
        email=message.email,
        skills=tuple(message.skills),
        group_ids=tuple(message.group_ids),
        capacity=message.capacity,
        available=message.available,
    )


def agent_to_proto(agent: Agent, load: int) -> agents_pb2.Agent:
    data = agent.data
    return agents_pb2.Agent(
        id=agent.id,
        display_name=data.display_name,
        email=data.email,
        skills=data.skills,
        group_ids=data.group_ids,
        capacity=data.capacity,
        available=data.available,
        load=load,
        create_time=timestamp(agent.create_time),
        update_time=timestamp(agent.update_time),
        etag=agent.etag,
    )


def group_to_proto(group: Group) -> agents_pb2.Group:
    return agents_pb2.Group(
        id=group.id, name=group.name, description=group.description, create_time=timestamp(group.create_time)
    )


def policy_targets_from_proto(message: sla_pb2.SlaPolicy) -> dict[str, Target]:
    return {
        enum_name(Priority, t.priority) or "NORMAL": Target(t.first_response_minutes, t.resolution_minutes)
        for t in message.targets
    }


def calendar_from_proto(message: sla_pb2.BusinessCalendar) -> tuple[str, list[tuple[int, str, str]], list[str]]:
    hours = [(h.day, h.start_time, h.end_time) for h in message.working_hours]
    return message.time_zone, hours, list(message.holidays)


def policy_to_proto(policy: SlaPolicy) -> sla_pb2.SlaPolicy:
    calendar = policy.calendar
    hours = [
        sla_pb2.WorkingHours(day=day, start_time=_clock(start), end_time=_clock(end))
        for day, spans in sorted(calendar.hours.items())
        for start, end in spans
    ]
    return sla_pb2.SlaPolicy(
        id=policy.id,
        name=policy.name,
        customer_tier=policy.customer_tier,
        calendar=sla_pb2.BusinessCalendar(
            time_zone=calendar.time_zone,
            working_hours=hours,
            holidays=sorted(h.isoformat() for h in calendar.holidays),
        ),
        targets=[
            sla_pb2.SlaTarget(
                priority=enum_value(Priority, priority),
                first_response_minutes=target.first_response_minutes,
                resolution_minutes=target.resolution_minutes,
            )
            for priority, target in sorted(policy.targets.items())
        ],
        warning_percent=policy.warning_percent,
        create_time=timestamp(policy.create_time),
    )


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


ArticleStatus = articles_pb2.Article.Status


def article_fields_from_proto(message: articles_pb2.Article) -> ArticleFields:
    return ArticleFields(
        title=message.title,
        body=message.body,
        category_id=message.category_id,
        tags=tuple(message.tags),
        author_id=message.author_id,
    )


def article_to_proto(article: Article) -> articles_pb2.Article:
    data = article.data
    return articles_pb2.Article(
        id=article.id,
        title=data.title,
        body=data.body,
        category_id=data.category_id,
        tags=data.tags,
        status=enum_value(ArticleStatus, article.status),
        author_id=data.author_id,
        create_time=timestamp(article.create_time),
        update_time=timestamp(article.update_time),
        publish_time=timestamp(article.publish_time),
        etag=article.etag,
    )


def category_to_proto(category: Category) -> articles_pb2.ArticleCategory:
    return articles_pb2.ArticleCategory(
        id=category.id,
        name=category.name,
        description=category.description,
        create_time=timestamp(category.create_time),
    )


def duration(seconds: float | None) -> duration_pb2.Duration | None:
    if seconds is None:
        return None
    value = duration_pb2.Duration()
    value.FromTimedelta(dt.timedelta(seconds=seconds))
    return value


def metrics_row_to_proto(row: Row) -> metrics_pb2.SupportMetricsRow:
    return metrics_pb2.SupportMetricsRow(
        key=row.key,
        tickets_created=row.tickets_created,
        first_response_average=duration(row.first_response_average),
        first_response_median=duration(row.first_response_median),
        resolution_average=duration(row.resolution_average),
        resolution_median=duration(row.resolution_median),
        sla_targets=row.sla_targets,
        sla_targets_met=row.sla_targets_met,
        sla_compliance=row.sla_compliance,
        backlog=row.backlog,
        solved_tickets=row.solved_tickets,
        reopened_tickets=row.reopened_tickets,
        reopen_rate=row.reopen_rate,
        csat_responses=len(row.csat),
        csat_average=row.csat_average,
        csat_satisfied_rate=row.csat_satisfied_rate,
        nps_responses=len(row.nps),
        nps=row.nps_score,
    )


def metrics_to_proto(report: Report, start: dt.datetime, end: dt.datetime) -> metrics_pb2.SupportMetrics:
    return metrics_pb2.SupportMetrics(
        start_time=timestamp(start),
        end_time=timestamp(end),
        overall=metrics_row_to_proto(report.overall),
        rows=[metrics_row_to_proto(r) for r in report.rows],
    )


SurveyKind = surveys_pb2.Survey.Kind


def survey_response_to_proto(survey: Survey) -> surveys_pb2.SurveyResponse | None:
    if survey.answer is None:
        return None
    return surveys_pb2.SurveyResponse(
        survey_id=survey.id,
        kind=enum_value(SurveyKind, survey.kind),
        score=survey.answer.score,
        comment=survey.answer.comment,
        response_time=timestamp(survey.answer.response_time),
    )


def survey_to_proto(survey: Survey, token: str = "") -> surveys_pb2.Survey:
    return surveys_pb2.Survey(
        id=survey.id,
        kind=enum_value(SurveyKind, survey.kind),
        requester_id=survey.requester_id,
        ticket_id=survey.ticket_id,
        agent_id=survey.agent_id,
        group_id=survey.group_id,
        create_time=timestamp(survey.create_time),
        expire_time=timestamp(survey.expire_time),
        token=token,
        response=survey_response_to_proto(survey),
    )
