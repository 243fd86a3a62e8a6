"""Routing on PostgreSQL: skills, loads, the group queue, releases, and no overfilling under concurrency."""

import threading

import grpc
import pytest
from crm.support.v1 import agents_pb2, agents_pb2_grpc, tickets_pb2, tickets_pb2_grpc

from tests.integration.support_helpers import AGENT_A, AGENT_B, as_, code_of, violations

T = tickets_pb2.Ticket


@pytest.fixture
def stubs(support):
    return support.stub(tickets_pb2_grpc.TicketsServiceStub), support.stub(agents_pb2_grpc.AgentsServiceStub)


def group(agents, name="Billing"):
    return agents.CreateGroup(agents_pb2.CreateGroupRequest(group=agents_pb2.Group(name=name)), metadata=as_(AGENT_A))


def agent(agents, group_id, name="Ann", capacity=2, skills=("billing",), available=True):
    message = agents_pb2.Agent(
        display_name=name, capacity=capacity, skills=skills, group_ids=[group_id], available=available
    )
    return agents.CreateAgent(agents_pb2.CreateAgentRequest(agent=message), metadata=as_(AGENT_A))


def ticket(tickets, group_id, skills=("billing",), subject="Refund", priority=T.NORMAL):
    message = T(subject=subject, requester_id="C1", group_id=group_id, required_skills=skills, priority=priority)
    return tickets.CreateTicket(tickets_pb2.CreateTicketRequest(ticket=message), metadata=as_(AGENT_A))


def set_available(agents, agent_id, available):
    request = agents_pb2.UpdateAgentRequest(
        id=agent_id, agent=agents_pb2.Agent(available=available), update_mask={"paths": ["available"]}
    )
    return agents.UpdateAgent(request, metadata=as_(AGENT_A))


def solve(tickets, ticket_id):
    request = tickets_pb2.UpdateTicketRequest(
        id=ticket_id, ticket=T(status=T.SOLVED), update_mask={"paths": ["status"]}
    )
    return tickets.UpdateTicket(request, metadata=as_(AGENT_A))


def get(tickets, ticket_id):
    return tickets.GetTicket(tickets_pb2.GetTicketRequest(id=ticket_id), metadata=as_(AGENT_A))


def test_a_new_ticket_goes_to_the_fitting_agent_with_the_lowest_load_and_history_says_why(support, stubs):
    tickets, agents = stubs
    billing = group(agents)
    ann = agent(agents, billing.id, "Ann")
    bob = agent(agents, billing.id, "Bob")
    agent(agents, billing.id, "Cid", skills=("shipping",))
    first = ticket(tickets, billing.id)
    second = ticket(tickets, billing.id)
    assert {first.assignee_id, second.assignee_id} == {ann.id, bob.id}
    assert (first.status, second.status) == (T.OPEN, T.OPEN)
    [assigned] = [h for h in second.history if h.kind == "assigned"]
    assert assigned.actor == "routing" and "lowest load (0/2)" in assigned.message
    assert "TicketAssigned" in support.event_types(first.id)
    loads = {a.id: a.load for a in agents.ListAgents(agents_pb2.ListAgentsRequest(), metadata=as_(AGENT_A)).agents}
    assert (loads[ann.id], loads[bob.id]) == (1, 1)


def test_a_ticket_waits_in_the_queue_and_is_assigned_when_capacity_frees(stubs):
    tickets, agents = stubs
    billing = group(agents)
    ann = agent(agents, billing.id, capacity=1)
    busy = ticket(tickets, billing.id)
    waiting = ticket(tickets, billing.id)
    assert waiting.assignee_id == ""
    [queued] = [h for h in waiting.history if h.kind == "queued"]
    assert f"{ann.id} is full (1/1)" in queued.message
    solve(tickets, busy.id)
    assigned = get(tickets, waiting.id)
    assert assigned.assignee_id == ann.id
    assert "capacity freed" in next(h for h in assigned.history if h.kind == "assigned").message


def test_an_agent_becoming_available_takes_queued_tickets(stubs):
    tickets, agents = stubs
    billing = group(agents)
    ann = agent(agents, billing.id, available=False)
    waiting = ticket(tickets, billing.id)
    assert waiting.assignee_id == ""
    assert set_available(agents, ann.id, True).load == 1
    assert get(tickets, waiting.id).assignee_id == ann.id


def test_an_agent_going_unavailable_releases_their_tickets_back_to_routing(support, stubs):
    tickets, agents = stubs
    billing = group(agents)
    ann = agent(agents, billing.id, capacity=5)
    first, second = ticket(tickets, billing.id), ticket(tickets, billing.id)
    bob = agent(agents, billing.id, "Bob", capacity=1, available=False)
    set_available(agents, bob.id, True)  # takes nothing: Ann's tickets are not waiting
    assert set_available(agents, ann.id, False).load == 0
    moved = [get(tickets, first.id), get(tickets, second.id)]
    assert sorted(t.assignee_id for t in moved) == ["", bob.id]
    for moved_ticket in moved:
        kinds = [h.kind for h in moved_ticket.history]
        assert "unassigned" in kinds
        assert any(f"agent {ann.id} became unavailable" in h.message for h in moved_ticket.history)
    assert "AgentAvailabilityChanged" in support.event_types(ann.id)


def test_references_to_unknown_agents_or_groups_are_invalid(stubs):
    tickets, agents = stubs
    bad_ticket = lambda: tickets.CreateTicket(  # noqa: E731
        tickets_pb2.CreateTicketRequest(ticket=T(subject="x", requester_id="C1", group_id="nope", assignee_id="nope")),
        metadata=as_(AGENT_A),
    )
    assert violations(bad_ticket) == {"group_id", "assignee_id"}
    bad_agent = lambda: agents.CreateAgent(  # noqa: E731
        agents_pb2.CreateAgentRequest(agent=agents_pb2.Agent(display_name="", capacity=0, group_ids=["nope"])),
        metadata=as_(AGENT_A),
    )
    assert violations(bad_agent) == {"display_name", "capacity"}


def test_another_tenants_agents_and_groups_do_not_exist_for_you(stubs):
    _, agents = stubs
    billing = group(agents)
    ann = agent(agents, billing.id)
    other = as_(AGENT_B)
    assert code_of(lambda: agents.GetAgent(agents_pb2.GetAgentRequest(id=ann.id), metadata=other)) == (
        grpc.StatusCode.NOT_FOUND
    )
    assert code_of(lambda: agents.GetGroup(agents_pb2.GetGroupRequest(id=billing.id), metadata=other)) == (
        grpc.StatusCode.NOT_FOUND
    )
    update = agents_pb2.UpdateAgentRequest(
        id=ann.id, agent=agents_pb2.Agent(capacity=9), update_mask={"paths": ["capacity"]}
    )
    assert code_of(lambda: agents.UpdateAgent(update, metadata=other)) == grpc.StatusCode.NOT_FOUND
    assert agents.ListAgents(agents_pb2.ListAgentsRequest(), metadata=other).agents == []


def test_concurrent_tickets_never_overfill_an_agent(support, stubs):
    tickets, agents = stubs
    billing = group(agents)
    agent(agents, billing.id, "Ann", capacity=2)
    agent(agents, billing.id, "Bob", capacity=1)
    created, errors = [], []
    start = threading.Barrier(12)

    def create() -> None:
        start.wait()
        try:
            created.append(ticket(tickets, billing.id))
        except grpc.RpcError as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    listed = agents.ListAgents(agents_pb2.ListAgentsRequest(), metadata=as_(AGENT_A)).agents
    assert sorted(a.load for a in listed) == [1, 2]
    assert sum(1 for t in created if t.assignee_id) == 3
