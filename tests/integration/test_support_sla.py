"""SLA policies and the SLA scheduler on PostgreSQL: deadlines, pauses, escalation, and exactly
one warning and one breach per ticket and target across scheduler restarts."""

import datetime as dt

import grpc
import pytest
from crm.support.v1 import events_pb2, sla_pb2, sla_pb2_grpc, tickets_pb2, tickets_pb2_grpc

from services.support.usecases import SlaMonitor
from tests.integration.support_helpers import AGENT_A, AGENT_B, as_, code_of, violations

T = tickets_pb2.Ticket
ALWAYS = sla_pb2.BusinessCalendar(
    time_zone="UTC",
    working_hours=[sla_pb2.WorkingHours(day=d, start_time="00:00", end_time="24:00") for d in range(1, 8)],
)


@pytest.fixture
def stubs(support):
    return support.stub(tickets_pb2_grpc.TicketsServiceStub), support.stub(sla_pb2_grpc.SlaPoliciesServiceStub)


def policy(policies, tier="", first_response=60, resolution=240, principal=AGENT_A):
    message = sla_pb2.SlaPolicy(
        name=f"{tier or 'default'} policy",
        customer_tier=tier,
        calendar=ALWAYS,
        targets=[
            sla_pb2.SlaTarget(priority=T.NORMAL, first_response_minutes=first_response, resolution_minutes=resolution)
        ],
    )
    return policies.CreateSlaPolicy(sla_pb2.CreateSlaPolicyRequest(sla_policy=message), metadata=as_(principal))


def ticket(tickets, tier=""):
    message = T(subject="Broken", requester_id="C1", customer_tier=tier)
    return tickets.CreateTicket(tickets_pb2.CreateTicketRequest(ticket=message), metadata=as_(AGENT_A))


def set_status(tickets, ticket_id, status):
    request = tickets_pb2.UpdateTicketRequest(id=ticket_id, ticket=T(status=status), update_mask={"paths": ["status"]})
    return tickets.UpdateTicket(request, metadata=as_(AGENT_A))


def sla_events(support, kind):
    message_type = getattr(events_pb2, kind)
    return [message_type.FromString(e.data) for e in support.events() if e.type.endswith(kind)]


def created_at(t):
    return t.create_time.ToDatetime(tzinfo=dt.UTC)


def test_a_ticket_gets_the_deadlines_of_its_tiers_policy(stubs):
    tickets, policies = stubs
    policy(policies, "", first_response=60)
    policy(policies, "premium", first_response=15)
    standard, premium = ticket(tickets), ticket(tickets, "premium")
    assert standard.first_response_due_time.ToDatetime(tzinfo=dt.UTC) == created_at(standard) + dt.timedelta(hours=1)
    assert premium.first_response_due_time.ToDatetime(tzinfo=dt.UTC) == created_at(premium) + dt.timedelta(minutes=15)
    assert code_of(lambda: policy(policies, "premium")) == grpc.StatusCode.ALREADY_EXISTS


def test_a_bad_policy_names_its_fields(stubs):
    _, policies = stubs
    message = sla_pb2.SlaPolicy(
        name="",
        calendar=sla_pb2.BusinessCalendar(time_zone="Nowhere/Land", holidays=["someday"]),
        targets=[sla_pb2.SlaTarget(priority=T.NORMAL, first_response_minutes=0, resolution_minutes=10)],
    )
    bad = lambda: policies.CreateSlaPolicy(sla_pb2.CreateSlaPolicyRequest(sla_policy=message), metadata=as_(AGENT_A))  # noqa: E731
    assert violations(bad) == {
        "name",
        "targets",
        "calendar.time_zone",
        "calendar.working_hours",
        "calendar.holidays",
    }


def test_the_clock_pauses_while_pending(stubs):
    tickets, policies = stubs
    policy(policies)
    created = ticket(tickets)
    pending = set_status(tickets, created.id, T.PENDING)
    assert not pending.HasField("resolution_due_time")
    resumed = set_status(tickets, created.id, T.OPEN)
    due = resumed.resolution_due_time.ToDatetime(tzinfo=dt.UTC)
    # The clock counted the time before the pause, not the time while pending.
    assert due > created_at(created) + dt.timedelta(hours=4)


def test_breaches_fire_once_per_ticket_and_target_across_scheduler_restarts(support, stubs):
    tickets, policies = stubs
    policy(policies, first_response=60, resolution=240)
    first, second = ticket(tickets), ticket(tickets)
    start = created_at(second)
    database, outbox = support.module.database, support.module.outbox

    scheduler = SlaMonitor(database, outbox)
    assert scheduler.tick(start + dt.timedelta(minutes=10)) == 0
    assert scheduler.tick(start + dt.timedelta(minutes=50)) == 2  # two first-response warnings
    assert scheduler.tick(start + dt.timedelta(minutes=50)) == 0
    assert scheduler.tick(start + dt.timedelta(minutes=61)) == 2  # two first-response breaches

    restarted = SlaMonitor(database, outbox)  # a new process: only the database remembers
    assert restarted.tick(start + dt.timedelta(minutes=61)) == 0
    # Down for a while: the resolution warning and breach are both due; the breach alone fires.
    assert restarted.tick(start + dt.timedelta(hours=5)) == 2
    assert SlaMonitor(database, outbox).tick(start + dt.timedelta(hours=9)) == 0

    breaches = sla_events(support, "TicketSlaBreached")
    per_target = sorted((b.ticket_id, events_pb2.SlaTargetKind.Name(b.target)) for b in breaches)
    assert per_target == sorted(
        [(t.id, target) for t in (first, second) for target in ("FIRST_RESPONSE", "RESOLUTION")]
    )
    warnings = sla_events(support, "TicketSlaWarning")
    assert sorted((w.ticket_id, events_pb2.SlaTargetKind.Name(w.target)) for w in warnings) == sorted(
        [(first.id, "FIRST_RESPONSE"), (second.id, "FIRST_RESPONSE")]
    )
    escalated = tickets.GetTicket(tickets_pb2.GetTicketRequest(id=first.id), metadata=as_(AGENT_A))
    assert escalated.priority == T.URGENT, "NORMAL -> HIGH on the first breach, -> URGENT on the second"
    kinds = [h.kind for h in escalated.history]
    assert kinds.count("sla_breach") == 2 and kinds.count("sla_warning") == 1
    assert any(h.kind == "priority" and h.actor == "sla" for h in escalated.history)


def test_a_response_after_the_deadline_is_a_breach_even_before_the_scheduler_runs(support, stubs):
    tickets, policies = stubs
    policy(policies, first_response=1)
    created = ticket(tickets)
    # Make the deadline pass by moving the ticket's deadline into the past rather than waiting.
    import sqlalchemy as sa

    from services.support.store import TicketRow

    with support.database.transaction() as session:
        session.execute(
            sa.update(TicketRow)
            .where(TicketRow.id == created.id)
            .values(first_response_due=created_at(created) - dt.timedelta(minutes=1))
        )
    reply = tickets_pb2.Comment(body="Sorry for the wait")
    tickets.AddComment(tickets_pb2.AddCommentRequest(ticket_id=created.id, comment=reply), metadata=as_(AGENT_A))
    [breach] = sla_events(support, "TicketSlaBreached")
    assert (breach.ticket_id, breach.target) == (created.id, events_pb2.FIRST_RESPONSE)
    assert SlaMonitor(support.module.database, support.module.outbox).tick() == 0


def test_another_tenants_policy_does_not_exist_for_you(stubs):
    _, policies = stubs
    mine = policy(policies)
    get = lambda: policies.GetSlaPolicy(sla_pb2.GetSlaPolicyRequest(id=mine.id), metadata=as_(AGENT_B))  # noqa: E731
    delete = lambda: policies.DeleteSlaPolicy(sla_pb2.DeleteSlaPolicyRequest(id=mine.id), metadata=as_(AGENT_B))  # noqa: E731
    assert code_of(get) == code_of(delete) == grpc.StatusCode.NOT_FOUND
    assert policies.ListSlaPolicies(sla_pb2.ListSlaPoliciesRequest(), metadata=as_(AGENT_B)).sla_policies == []
