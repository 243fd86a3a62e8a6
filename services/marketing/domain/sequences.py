"""Nurture sequences: their definition, its validation, and how an enrolment moves from one step to
the next. Pure Python, no I/O (docs/adr/0055).

Steps are numbered from 1 in the API and stored by index (from 0). A condition's `else_step` jumps
forward only, so every enrolment finishes in at most as many runs as there are steps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from crmkit.errors import FailedPrecondition, InvalidArgument, Validator
from services.marketing.domain import segments

EMAIL, WAIT, CONDITION = "email", "wait", "condition"
KINDS = (EMAIL, WAIT, CONDITION)
DRAFT, ACTIVE, PAUSED, ARCHIVED = "DRAFT", "ACTIVE", "PAUSED", "ARCHIVED"
# An enrolment's status.
RUNNING, COMPLETED, EXITED = "ACTIVE", "COMPLETED", "EXITED"
ENROLMENT_STATUSES = (RUNNING, COMPLETED, EXITED)
# Why an enrolment exited (stable words: reports count them).
REPLIED, CONVERTED, UNSUBSCRIBED = "REPLIED", "CONVERTED", "UNSUBSCRIBED"
NOT_SENDABLE, CONDITION_NOT_MET, CONTACT_DELETED = "NOT_SENDABLE", "CONDITION_NOT_MET", "CONTACT_DELETED"
REMOVED, SEQUENCE_ARCHIVED = "REMOVED", "SEQUENCE_ARCHIVED"
# How a contact was enrolled.
SEGMENT_ENTRY, SEGMENT_MEMBER, MANUAL = "SEGMENT_ENTRY", "SEGMENT_MEMBER", "MANUAL"
# What a step run did.
SENT, NOT_SENT, WAITED, TRUE, FALSE = "SENT", "NOT_SENT", "WAITED", "TRUE", "FALSE"

MAX_STEPS = 50
MIN_DELAY = dt.timedelta(seconds=1)
MAX_DELAY = dt.timedelta(days=365)


@dataclass(frozen=True)
class Step:
    kind: str
    template_id: str = ""
    delay: dt.timedelta = dt.timedelta(0)
    rules: Mapping[str, Any] = field(default_factory=dict)
    # Condition only: the step (1-based) to go to when false; 0 exits the enrolment.
    else_step: int = 0


@dataclass(frozen=True)
class SequenceFields:
    name: str
    segment_id: str
    steps: tuple[Step, ...]


def validate(fields: SequenceFields) -> SequenceFields:
    """Every problem at once, each named by its JSON path (`steps[2].condition.elseStep`)."""
    check = Validator()
    name = check.text("name", fields.name, 200)
    if not name:
        check.add("name", "is required")
    segment_id = check.identifier("segmentId", fields.segment_id, 26)
    if not fields.steps:
        check.add("steps", "at least one step")
    elif len(fields.steps) > MAX_STEPS:
        check.add("steps", f"at most {MAX_STEPS} steps")
    elif not any(s.kind == EMAIL for s in fields.steps):
        check.add("steps", "at least one email step")
    steps = list(fields.steps)
    for index, step in enumerate(fields.steps):
        path = f"steps[{index}]"
        if step.kind == EMAIL:
            template_id = check.identifier(f"{path}.email.templateId", step.template_id, 26)
            if not template_id:
                check.add(f"{path}.email.templateId", "is required")
            steps[index] = Step(EMAIL, template_id=template_id)
        elif step.kind == WAIT:
            if not MIN_DELAY <= step.delay <= MAX_DELAY:
                check.add(f"{path}.wait.delay", "must be from 1 second to 365 days")
        elif step.kind == CONDITION:
            if not step.rules:
                check.add(f"{path}.condition.rules", "is required")
            else:
                try:
                    condition_rule(fields.steps, index)
                except InvalidArgument as exc:
                    check.violations.extend(exc.violations)
            if step.else_step and not index + 2 <= step.else_step <= len(fields.steps) + 1:
                check.add(
                    f"{path}.condition.elseStep",
                    f"must be a later step ({index + 2} to {len(fields.steps)}), "
                    f"{len(fields.steps) + 1} to finish, or 0 to exit",
                )
        else:
            check.add(path, "must have one of: email, wait, condition")
    check.raise_if_any()
    return SequenceFields(name, segment_id, tuple(steps))


def condition_rule(steps: Sequence[Step], index: int) -> segments.Rule:
    """The condition of step `index` parsed; engagement conditions may name earlier email steps."""
    earlier = {i + 1 for i, s in enumerate(steps[:index]) if s.kind == EMAIL}
    return segments.parse(dict(steps[index].rules), f"steps[{index}].condition.rules", steps=earlier)


def check_transition(state: str, wanted: str) -> None:
    allowed = {ACTIVE: (DRAFT, PAUSED, ACTIVE), PAUSED: (ACTIVE, PAUSED), ARCHIVED: (DRAFT, ACTIVE, PAUSED)}
    if state not in allowed[wanted]:
        raise FailedPrecondition(f"a {state} sequence cannot become {wanted}")


@dataclass(frozen=True)
class Move:
    """Where an enrolment goes after running a step."""

    # Index of the next step; None when the enrolment is over.
    next_step: int | None
    # When the next step is due, from the moment this one ran.
    delay: dt.timedelta = dt.timedelta(0)
    status: str = RUNNING
    exit_reason: str = ""


def after(steps: Sequence[Step], index: int, outcome: str) -> Move:
    """The move after step `index` ran with `outcome`."""
    step = steps[index]
    following = index + 1
    delay = dt.timedelta(0)
    if step.kind == WAIT:
        delay = step.delay
    elif step.kind == CONDITION and outcome == FALSE:
        if not step.else_step:
            return Move(None, status=EXITED, exit_reason=CONDITION_NOT_MET)
        following = step.else_step - 1
    if following >= len(steps):
        return Move(None, status=COMPLETED)
    return Move(following, delay)


def steps_to_json(steps: Sequence[Step]) -> list[dict[str, Any]]:
    stored: list[dict[str, Any]] = []
    for step in steps:
        if step.kind == EMAIL:
            stored.append({"kind": EMAIL, "templateId": step.template_id})
        elif step.kind == WAIT:
            stored.append({"kind": WAIT, "delaySeconds": step.delay.total_seconds()})
        else:
            stored.append({"kind": CONDITION, "rules": dict(step.rules), "elseStep": step.else_step})
    return stored


def steps_from_json(stored: Sequence[Mapping[str, Any]]) -> tuple[Step, ...]:
    return tuple(
        Step(
            kind=s["kind"],
            template_id=s.get("templateId", ""),
            delay=dt.timedelta(seconds=s.get("delaySeconds", 0)),
            rules=s.get("rules", {}),
            else_step=s.get("elseStep", 0),
        )
        for s in stored
    )
