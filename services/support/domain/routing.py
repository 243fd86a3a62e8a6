"""Routing: which agent gets a ticket, and why. Pure: the store hands in the candidates with
their current loads (read under lock), and the decision comes back with its explanation."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

PRIORITY_ORDER = {"URGENT": 0, "HIGH": 1, "NORMAL": 2, "LOW": 3}


@dataclass(frozen=True)
class Candidate:
    agent_id: str
    skills: frozenset[str]
    group_ids: frozenset[str]
    capacity: int
    available: bool
    load: int

    @property
    def spare(self) -> int:
        return self.capacity - self.load


@dataclass(frozen=True)
class Routable:
    """What routing needs to know about a ticket."""

    ticket_id: str
    group_id: str
    required_skills: frozenset[str]
    priority: str = "NORMAL"


@dataclass(frozen=True)
class Decision:
    ticket_id: str
    # '' when the ticket waits in its group's queue.
    agent_id: str
    reason: str


def route_ticket(ticket: Routable, candidates: Iterable[Candidate]) -> Decision:
    """The available agent of the ticket's group with every required skill, spare capacity and the
    lowest load (then the lowest share of capacity used, then the oldest id); or the queue."""
    refusals: list[str] = []
    fitting: list[Candidate] = []
    for agent in sorted(candidates, key=lambda c: c.agent_id):
        why_not = _why_not(ticket, agent)
        if why_not:
            refusals.append(f"{agent.agent_id} {why_not}")
        else:
            fitting.append(agent)
    needs = _needs(ticket)
    if not fitting:
        considered = "; ".join(refusals) if refusals else "no agents"
        return Decision(ticket.ticket_id, "", f"waiting in the queue: no agent fits {needs} ({considered})")
    chosen = min(fitting, key=lambda c: (c.load, c.load / c.capacity, c.agent_id))
    others = len(fitting) - 1
    reason = f"{needs}; {chosen.agent_id} had the lowest load ({chosen.load}/{chosen.capacity})" + (
        f" of {others + 1} fitting agents" if others else ", the only fitting agent"
    )
    return Decision(ticket.ticket_id, chosen.agent_id, reason)


def plan_queue(waiting: Sequence[Routable], candidates: Sequence[Candidate]) -> list[Decision]:
    """Assignments for waiting tickets, most urgent (then oldest) first, each taking capacity from
    the next. Tickets that still fit nobody are left out: they keep waiting."""
    pool = {c.agent_id: c for c in candidates}
    decisions = []
    for ticket in sorted(waiting, key=lambda t: (PRIORITY_ORDER.get(t.priority, 9), t.ticket_id)):
        decision = route_ticket(ticket, pool.values())
        if decision.agent_id:
            chosen = pool[decision.agent_id]
            pool[chosen.agent_id] = replace(chosen, load=chosen.load + 1)
            decisions.append(replace(decision, reason=f"capacity freed; {decision.reason}"))
    return decisions


def _why_not(ticket: Routable, agent: Candidate) -> str:
    if not agent.available:
        return "is unavailable"
    if ticket.group_id and ticket.group_id not in agent.group_ids:
        return f"is not in group {ticket.group_id}"
    missing = sorted(ticket.required_skills - agent.skills)
    if missing:
        return f"lacks {', '.join(missing)}"
    if agent.spare <= 0:
        return f"is full ({agent.load}/{agent.capacity})"
    return ""


def _needs(ticket: Routable) -> str:
    parts = [f"group {ticket.group_id}" if ticket.group_id else "any group"]
    parts.append(f"skills {', '.join(sorted(ticket.required_skills))}" if ticket.required_skills else "no skills")
    return " with ".join(parts)
