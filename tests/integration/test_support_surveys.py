"""Satisfaction surveys over real gRPC on PostgreSQL: a solve creates a CSAT survey and its link
token; the answer is authorised by the token alone (an anonymous principal, only for the public
method), once per survey; answers feed the metrics."""

from __future__ import annotations

import datetime as dt

import grpc
import jwt
import pytest
from crm.support.v1 import (
    events_pb2,
    metrics_pb2,
    metrics_pb2_grpc,
    surveys_pb2,
    surveys_pb2_grpc,
    tickets_pb2,
    tickets_pb2_grpc,
)
from google.protobuf import timestamp_pb2

from crmkit.errors import FailedPrecondition, InvalidArgument
from crmkit.events.outbox import Outbox
from crmkit.tokens import Principal
from services.support.store import OUTBOX
from services.support.usecases import Surveys
from tests.integration.support_helpers import AGENT_A, AGENT_B, READER_A, as_, code_of, violations

T = tickets_pb2.Ticket
S = surveys_pb2.Survey
ANONYMOUS = Principal.anonymous("203.0.113.7")


@pytest.fixture
def stubs(support):
    return (
        support.stub(tickets_pb2_grpc.TicketsServiceStub),
        support.stub(surveys_pb2_grpc.SurveysServiceStub),
    )


def solved_ticket(tickets, principal=AGENT_A) -> tickets_pb2.Ticket:
    ticket = tickets.CreateTicket(
        tickets_pb2.CreateTicketRequest(ticket=T(subject="Broken", requester_id="C1")), metadata=as_(principal)
    )
    request = tickets_pb2.UpdateTicketRequest(
        id=ticket.id, ticket=T(status=T.SOLVED), update_mask={"paths": ["status"]}
    )
    return tickets.UpdateTicket(request, metadata=as_(principal))


def created_surveys(support) -> list[events_pb2.SurveyCreated]:
    return [events_pb2.SurveyCreated.FromString(e.data) for e in support.events() if e.type.endswith("SurveyCreated")]


def submit(surveys, token, score=None, comment="", principal=ANONYMOUS):
    request = surveys_pb2.SubmitSurveyResponseRequest(token=token, comment=comment)
    if score is not None:
        request.score = score
    return surveys.SubmitSurveyResponse(request, metadata=as_(principal))


def test_solving_a_ticket_creates_a_csat_survey_that_an_anonymous_customer_answers_once(support, stubs):
    tickets, surveys = stubs
    ticket = solved_ticket(tickets)
    [created] = created_surveys(support)
    assert (created.kind, created.ticket_id, created.requester_id) == (S.CSAT, ticket.id, "C1")
    claims = jwt.decode(created.token, options={"verify_signature": False})
    assert (claims["tid"], claims["sid"], claims["tkt"]) == ("TENANT_A", created.survey_id, ticket.id)
    assert claims["exp"] == created.expire_time.seconds

    answer = submit(surveys, created.token, 4, "  Quick and kind  ")
    assert (answer.survey_id, answer.kind, answer.score, answer.comment) == (
        created.survey_id,
        S.CSAT,
        4,
        "Quick and kind",
    )
    again = submit(surveys, created.token, 4, "Quick and kind")
    assert again.response_time == answer.response_time, "the same answer again is a safe retry"
    different = lambda: submit(surveys, created.token, 1)  # noqa: E731
    assert code_of(different) == grpc.StatusCode.ALREADY_EXISTS
    assert support.event_types(created.survey_id) == ["SurveyCreated", "SurveyAnswered"]
    answered = events_pb2.SurveyAnswered.FromString(support.events(created.survey_id)[-1].data)
    assert (answered.ticket_id, answered.score) == (ticket.id, 4)
    assert answered.requester_id == ticket.requester_id, "the timeline files the answer under the requester"
    assert answered.response_time.ToDatetime(tzinfo=dt.UTC) == answer.response_time.ToDatetime(tzinfo=dt.UTC)
    stored = surveys.GetSurvey(surveys_pb2.GetSurveyRequest(id=created.survey_id), metadata=as_(AGENT_A))
    assert stored.response.score == 4 and stored.ticket_id == ticket.id
    other = surveys_pb2.GetSurveyRequest(id=created.survey_id)
    assert code_of(lambda: surveys.GetSurvey(other, metadata=as_(AGENT_B))) == grpc.StatusCode.NOT_FOUND


def test_bad_answers_and_tokens_name_their_fields_and_write_nothing(support, stubs):
    tickets, surveys = stubs
    solved_ticket(tickets)
    [created] = created_surveys(support)
    before = support.event_types()
    assert violations(lambda: submit(surveys, created.token, 6)) == {"score"}
    assert violations(lambda: submit(surveys, created.token)) == {"score"}
    assert violations(lambda: submit(surveys, created.token, 3, "x" * 2001)) == {"comment"}
    assert violations(lambda: submit(surveys, "", 3)) == {"token"}
    forged = jwt.encode({**jwt.decode(created.token, options={"verify_signature": False})}, "k" * 40, "HS256")
    assert violations(lambda: submit(surveys, forged, 3)) == {"token"}
    assert support.event_types() == before


def test_the_tenant_comes_from_the_token_not_from_the_caller(support, stubs):
    tickets, surveys = stubs
    solved_ticket(tickets, AGENT_B)
    [created] = created_surveys(support)
    answer = submit(surveys, created.token, 5, principal=AGENT_A)  # a caller of another tenant
    assert answer.score == 5
    stored = surveys.GetSurvey(surveys_pb2.GetSurveyRequest(id=created.survey_id), metadata=as_(AGENT_B))
    assert stored.response.score == 5


def test_the_anonymous_principal_may_call_only_public_methods(support, stubs):
    tickets, surveys = stubs
    ticket = solved_ticket(tickets)
    get = tickets_pb2.GetTicketRequest(id=ticket.id)
    assert code_of(lambda: tickets.GetTicket(get, metadata=as_(ANONYMOUS))) == grpc.StatusCode.UNAUTHENTICATED
    nps = surveys_pb2.CreateSurveyRequest(survey=S(requester_id="C1"))
    assert code_of(lambda: surveys.CreateSurvey(nps, metadata=as_(ANONYMOUS))) == grpc.StatusCode.UNAUTHENTICATED
    assert code_of(lambda: surveys.CreateSurvey(nps, metadata=as_(READER_A))) == grpc.StatusCode.PERMISSION_DENIED


def test_nps_surveys_and_csat_answers_feed_the_metrics(support, stubs):
    tickets, surveys = stubs
    create = lambda: surveys.CreateSurvey(  # noqa: E731
        surveys_pb2.CreateSurveyRequest(survey=S(requester_id="C1")), metadata=as_(AGENT_A)
    )
    assert violations(
        lambda: surveys.CreateSurvey(surveys_pb2.CreateSurveyRequest(survey=S(kind=S.CSAT)), metadata=as_(AGENT_A))
    ) == {"kind"}
    for score in (10, 9, 7, 2):
        nps = create()
        assert nps.kind == S.NPS and nps.token
        submit(surveys, nps.token, score)
    for _ in range(2):
        solved_ticket(tickets)
    for event, score in zip([e for e in created_surveys(support) if e.kind == S.CSAT], (5, 3), strict=True):
        submit(surveys, event.token, score)
    start, end = timestamp_pb2.Timestamp(), timestamp_pb2.Timestamp()
    now = dt.datetime.now(dt.UTC)
    start.FromDatetime(now - dt.timedelta(hours=1))
    end.FromDatetime(now + dt.timedelta(hours=1))
    stub = support.stub(metrics_pb2_grpc.SupportMetricsServiceStub)
    report = stub.GetSupportMetrics(
        metrics_pb2.GetSupportMetricsRequest(start_time=start, end_time=end), metadata=as_(AGENT_A)
    )
    overall = report.overall
    assert (overall.nps_responses, overall.nps) == (4, 25.0)
    assert (overall.csat_responses, overall.csat_average, overall.csat_satisfied_rate) == (2, 4.0, 0.5)
    assert (overall.tickets_created, overall.solved_tickets) == (2, 2)


def test_an_expired_survey_is_refused(support):
    clock_now = [dt.datetime(2026, 1, 1, tzinfo=dt.UTC)]
    service = Surveys(support.database, Outbox("support", OUTBOX), clock=lambda: clock_now[0])
    survey, token = service.create(AGENT_A, "NPS", "C1")
    clock_now[0] = survey.expire_time
    with pytest.raises(FailedPrecondition):
        service.submit(token, 9, "")
    clock_now[0] = survey.expire_time - dt.timedelta(seconds=1)
    assert service.submit(token, 9, "").answer is not None
    with pytest.raises(InvalidArgument):
        Surveys(support.database, Outbox("support", OUTBOX), secret="x" * 40).submit(token, 9, "")
