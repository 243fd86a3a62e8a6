"""Assignment rules: which rep gets a new lead, and why, in words for the lead's history.

Rules are tried in order (position, then creation). A rule applies when all its conditions hold;
it then gives the lead to its one owner, or takes its team in turn (round robin from the rule's
cursor), skipping reps who already hold `capacity_per_owner` open leads. A rule whose whole team
is full passes the lead on to the next rule; a lead no rule can place stays unassigned.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from crmkit.errors import Validator
from services.sales.domain.leads import MAX_ID, MAX_NAME, LeadFields, check_rule_attribute

MAX_CONDITIONS = 20
MAX_VALUES = 100
MAX_OWNERS = 200


@dataclass(frozen=True)
class Condition:
    attribute: str
    values: tuple[str, ...]

    def holds(self, lead: LeadFields) -> bool:
        return lead.attribute(self.attribute) in {v.strip().lower() for v in self.values}

    def describe(self) -> str:
        return (
            f"{self.attribute} in ({', '.join(self.values)})"
            if len(self.values) > 1
            else (f"{self.attribute} = {self.values[0]}")
        )


@dataclass(frozen=True)
class AssignmentRule:
    id: str
    tenant_id: str
    name: str
    position: int
    conditions: tuple[Condition, ...]
    territory: str
    owner_ids: tuple[str, ...]
    capacity_per_owner: int
    create_time: dt.datetime
    # Index into owner_ids of the next rep in turn (round robin).
    cursor: int = 0

    def matches(self, lead: LeadFields) -> bool:
        return all(c.holds(lead) for c in self.conditions)


@dataclass(frozen=True)
class Decision:
    owner_id: str
    reason: str
    # The rule that assigned the lead and its cursor afterwards (None when nothing was assigned).
    rule_id: str | None = None
    next_cursor: int = 0


def validate_rule(rule: AssignmentRule) -> AssignmentRule:
    check = Validator()
    name = check.text("name", rule.name, MAX_NAME)
    if not name:
        check.add("name", "is required")
    territory = check.text("territory", rule.territory, MAX_NAME)
    if len(rule.conditions) > MAX_CONDITIONS:
        check.add("conditions", f"at most {MAX_CONDITIONS} conditions")
    conditions = []
    for i, condition in enumerate(rule.conditions):
        check_rule_attribute(check, f"conditions[{i}].attribute", condition.attribute.strip())
        values = check.labels(f"conditions[{i}].values", condition.values, limit=MAX_VALUES, max_length=MAX_NAME)
        if not values:
            check.add(f"conditions[{i}].values", "give at least one value")
        conditions.append(Condition(condition.attribute.strip(), values))
    owners = check.labels("owner_ids", rule.owner_ids, limit=MAX_OWNERS, max_length=MAX_ID, allow_slash=False)
    if not owners:
        check.add("owner_ids", "give at least one owner (a team of one is a fixed owner)")
    if rule.capacity_per_owner < 0:
        check.add("capacity_per_owner", "must not be negative (0 means no limit)")
    check.raise_if_any()
    return AssignmentRule(
        rule.id,
        rule.tenant_id,
        name,
        rule.position,
        tuple(conditions),
        territory,
        owners,
        rule.capacity_per_owner,
        rule.create_time,
    )


def choose_owner(rules: Sequence[AssignmentRule], lead: LeadFields, open_leads: Mapping[str, int]) -> Decision:
    """The first rule (in the given order) that matches and has a rep with room decides.

    `open_leads` counts each rep's open leads now (reps without any may be absent).
    """
    notes: list[str] = []
    for rule in rules:
        if not rule.matches(lead):
            continue
        why = _why(rule)
        team = rule.owner_ids
        start = rule.cursor % len(team)
        full = []
        for step in range(len(team)):
            index = (start + step) % len(team)
            owner = team[index]
            held = open_leads.get(owner, 0)
            if rule.capacity_per_owner and held >= rule.capacity_per_owner:
                full.append(owner)
                continue
            how = "fixed owner" if len(team) == 1 else f"round robin, turn {index + 1} of {len(team)}"
            load = f"{held + 1} of {rule.capacity_per_owner} open leads" if rule.capacity_per_owner else "no limit"
            skipped = f"; skipped at capacity: {', '.join(full)}" if full else ""
            earlier = f" ({'; '.join(notes)})" if notes else ""
            reason = f"assigned to {owner} by rule {rule.name!r}{why}: {how}, {load}{skipped}{earlier}"
            return Decision(owner, reason, rule.id, (index + 1) % len(team))
        notes.append(f"rule {rule.name!r} matched but every rep is at capacity {rule.capacity_per_owner}")
    if notes:
        return Decision("", "left unassigned: " + "; ".join(notes))
    return Decision("", "left unassigned: no assignment rule matched")


def _why(rule: AssignmentRule) -> str:
    parts = []
    if rule.territory:
        parts.append(f"territory {rule.territory}")
    parts += [c.describe() for c in rule.conditions]
    return f" ({'; '.join(parts)})" if parts else " (fallback: no conditions)"
