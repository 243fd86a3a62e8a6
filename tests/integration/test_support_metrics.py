"""Support metrics from real tickets, SLA markers and history, on PostgreSQL and SQLite, with a
fixed clock so every figure is exact; and the gRPC method's validation and tenancy."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from crm.support.v1 import metrics_pb2, metrics_pb2_grpc
from google.protobuf import timestamp_pb2

from crmkit.db import Database
from crmkit.events.outbox import Outbox
from crmkit.migrations import upgrade
from crmkit.tokens import Principal
from services.support.domain.agents import AgentFields
from services.support.domain.sla import Target
from services.support.domain.tickets import TicketFields
from services.support.module import MIGRATIONS
from services.support.store import OUTBOX
from services.support.usecases import Agents, SlaPolicies, SupportMetrics, Tickets
from tests.integration.support_helpers import AGENT_A, as_, run_support, violations

ME = Principal("T1", "agent:lead", frozenset({"support:read", "support:write"}))
OTHER = Principal("T2", "agent:other", frozenset({"support:read", "support:write"}))
T0 = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
END = T0 + dt.timedelta(days=1)
H = dt.timedelta(hours=1)
ALWAYS = ("UTC", [(d, "00:00", "24:00") for d in range(1, 8)], [])


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request, migrated, tmp_path):
    if request.param == "postgresql":
        db = migrated("support")
    else:
        url = f"sqlite:///{tmp_path / 'support.db'}"
        upgrade(MIGRATIONS, url)
        db = Database(url)
    yield db
    db.dispose()


def build_history(database: Database) -> tuple[str, str]:
    """The scenario of tests/unit/test_support_metrics.py, played through the use cases."""
    clock = Clock()
    outbox = Outbox("support", OUTBOX)
    tickets = Tickets(database, outbox, clock)
    agents = Agents(database, outbox, clock)
    SlaPolicies(database, clock).create(ME, "default", "", ALWAYS, {"NORMAL": Target(60, 240)}, 80)
    a1 = agents.create(ME, AgentFields("Ann", "ann@example.com", capacity=10, available=False)).agent.id
    a2 = agents.create(ME, AgentFields("Bob", "bob@example.com", capacity=10, available=False)).agent.id

    def at(time: dt.datetime) -> None:
        clock.now = time

    def create(assignee: str) -> str:
        return tickets.create(ME, TicketFields(subject="Help", requester_id="C1", assignee_id=assignee)).ticket.id

    def reply(ticket_id: str) -> None:
        tickets.add_comment(ME, ticket_id, "On it", "PUBLIC", "AGENT", "", "", "")

    def status(ticket_id: str, to: str) -> None:
        tickets.update(ME, ticket_id, TicketFields(status=to), ["status"], "")

    at(T0 - 24 * H)
    create(a2)  # t5: before the period, still open at its end
    at(T0)
    t1 = create(a1)
    at(T0 + H)
    t2 = create(a1)
    at(T0 + 0.5 * H)
    reply(t1)  # 30 min: met
    at(T0 + 2 * H)
    status(t1, "SOLVED")  # 2 h: met
    create(a2)  # t3: never answered, no breach recorded yet
    at(T0 + 2.5 * H)
    reply(t2)  # 90 min: late, a breach at once
    at(T0 + 3 * H)
    status(t1, "CLOSED")
    t4 = create(a2)
    at(T0 + 3 * H + dt.timedelta(minutes=10))
    reply(t4)  # 10 min: met
    status(t4, "PENDING")
    at(T0 + 7 * H)
    status(t2, "SOLVED")  # 6 h: late
    at(T0 + 8 * H)
    status(t2, "OPEN")  # reopened
    at(END + H)
    create(a2)  # t6: after the period
    status(t2, "SOLVED")  # after the period: t2 was still open at its end
    tickets.create(OTHER, TicketFields(subject="Theirs", requester_id="C9"))
    return a1, a2


def test_metrics_from_real_tickets_are_exact(database):
    a1, a2 = build_history(database)
    report = SupportMetrics(database).report(ME, T0, END, "AGENT")
    overall = report.overall
    assert overall.tickets_created == 3 + 1  # t1, t2, t3, t4
    assert (overall.first_response_average, overall.first_response_median) == (2600, 1800)
    # t2's last solve came after the period: it still counts (cohort figures run to now).
    assert (overall.resolution_average, overall.resolution_median) == (
        (7200 + (END + H - T0 - H).total_seconds()) / 2,
        (7200 + 86400) / 2,
    )
    assert (overall.sla_targets, overall.sla_targets_met, overall.sla_compliance) == (5, 3, 0.6)
    assert overall.backlog == 4  # t2 (reopened), t3, t4 (pending), t5
    assert (overall.solved_tickets, overall.reopened_tickets, overall.reopen_rate) == (2, 1, 0.5)
    by_key = {r.key: r for r in report.rows}
    assert set(by_key) == {a1, a2}
    assert (by_key[a1].tickets_created, by_key[a1].sla_compliance, by_key[a1].backlog) == (2, 0.5, 1)
    assert (by_key[a2].tickets_created, by_key[a2].first_response_average, by_key[a2].backlog) == (2, 600, 3)
    other = SupportMetrics(database).report(OTHER, T0 - 24 * H, END + 2 * H, "")
    assert (other.overall.tickets_created, other.overall.backlog) == (1, 1)


@pytest.fixture
def grpc_metrics(migrated):
    running, stop = run_support(migrated("support"))
    yield running.stub(metrics_pb2_grpc.SupportMetricsServiceStub)
    stop()


def stamp(value: dt.datetime) -> timestamp_pb2.Timestamp:
    result = timestamp_pb2.Timestamp()
    result.FromDatetime(value)
    return result


def test_metrics_over_grpc_validate_the_period(grpc_metrics):
    request = metrics_pb2.GetSupportMetricsRequest
    bad = lambda r: grpc_metrics.GetSupportMetrics(r, metadata=as_(AGENT_A))  # noqa: E731
    assert violations(lambda: bad(request())) == {"start_time", "end_time"}
    assert violations(lambda: bad(request(start_time=stamp(END), end_time=stamp(T0)))) == {"end_time"}
    assert violations(lambda: bad(request(start_time=stamp(T0), end_time=stamp(END), group_by=7))) == {"group_by"}
    empty = bad(request(start_time=stamp(T0), end_time=stamp(END), group_by=request.GROUP))
    assert empty.overall.tickets_created == 0 and not empty.overall.HasField("first_response_average")
    assert list(empty.rows) == []
    with pytest.raises(grpc.RpcError):
        grpc_metrics.GetSupportMetrics(request(start_time=stamp(T0), end_time=stamp(END)))
