from services.support.domain.routing import Candidate, Routable, plan_queue, route_ticket


def agent(agent_id, load=0, capacity=3, skills=("billing",), groups=("G1",), available=True):
    return Candidate(agent_id, frozenset(skills), frozenset(groups), capacity, available, load)


def ticket(ticket_id="T1", skills=("billing",), group="G1", priority="NORMAL"):
    return Routable(ticket_id, group, frozenset(skills), priority)


def test_the_available_agent_with_the_skill_and_the_lowest_load_gets_the_ticket():
    decision = route_ticket(ticket(), [agent("A1", load=2), agent("A2", load=1), agent("A3", load=0, available=False)])
    assert decision.agent_id == "A2"
    assert "A2 had the lowest load (1/3) of 2 fitting agents" in decision.reason


def test_equal_loads_go_to_the_agent_using_less_of_their_capacity_then_the_oldest_id():
    assert route_ticket(ticket(), [agent("A1", load=1, capacity=2), agent("A2", load=1, capacity=5)]).agent_id == "A2"
    assert route_ticket(ticket(), [agent("A2"), agent("A1")]).agent_id == "A1"


def test_every_refusal_is_explained_when_the_ticket_waits():
    decision = route_ticket(
        ticket(skills=("billing", "french")),
        [
            agent("A1", available=False),
            agent("A2", groups=("G2",)),
            agent("A3"),
            agent("A4", skills=("billing", "french"), load=3),
        ],
    )
    assert decision.agent_id == ""
    assert decision.reason == (
        "waiting in the queue: no agent fits group G1 with skills billing, french "
        "(A1 is unavailable; A2 is not in group G1; A3 lacks french; A4 is full (3/3))"
    )


def test_a_ticket_without_group_or_skills_can_go_to_anyone_available():
    assert route_ticket(ticket(skills=(), group=""), [agent("A1", skills=(), groups=())]).agent_id == "A1"
    assert route_ticket(ticket(), []).reason.endswith("(no agents)")


def test_the_queue_is_drained_most_urgent_first_without_overfilling_anyone():
    waiting = [ticket("T1"), ticket("T2", priority="URGENT"), ticket("T3", priority="HIGH"), ticket("T4")]
    decisions = plan_queue(waiting, [agent("A1", load=2, capacity=3), agent("A2", load=2, capacity=3)])
    assert [(d.ticket_id, d.agent_id) for d in decisions] == [("T2", "A1"), ("T3", "A2")]
    assert decisions[0].reason.startswith("capacity freed; ")


def test_the_queue_skips_tickets_nobody_can_take_and_serves_the_rest():
    waiting = [ticket("T1", skills=("german",)), ticket("T2")]
    assert [(d.ticket_id, d.agent_id) for d in plan_queue(waiting, [agent("A1")])] == [("T2", "A1")]
