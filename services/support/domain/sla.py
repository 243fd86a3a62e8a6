"""SLA policies and the per-ticket SLA clock. Pure.

A ticket's clock counts business time (its policy's calendar) while the ticket is NEW or OPEN;
it pauses while PENDING (waiting on the requester) and stops when SOLVED or CLOSED, keeping what
it had counted, so a reopened ticket resumes where it left off. Deadlines are derived from the
clock: `running_since` + (target - elapsed) business seconds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from crmkit.errors import Validator
from services.support.domain.business_hours import Calendar, add_business_seconds, business_seconds_between
from services.support.domain.tickets import PRIORITIES

RUNNING_STATUSES = frozenset({"NEW", "OPEN"})
FIRST_RESPONSE = "FIRST_RESPONSE"
RESOLUTION = "RESOLUTION"
WARNING = "WARNING"
BREACH = "BREACH"
MAX_TARGET_MINUTES = 365 * 24 * 60


@dataclass(frozen=True)
class Target:
    first_response_minutes: int
    resolution_minutes: int


@dataclass(frozen=True)
class SlaPolicy:
    id: str
    tenant_id: str
    name: str
    # '' = the tenant's default, for tiers without a policy of their own.
    customer_tier: str
    calendar: Calendar
    targets: Mapping[str, Target]
    # A near-breach warning fires when this share of a target's business time has passed.
    warning_percent: int
    create_time: dt.datetime


@dataclass(frozen=True)
class SlaState:
    policy_id: str = ""
    # Business seconds counted before running_since.
    elapsed_seconds: int = 0
    # When the clock last started; None while paused or stopped.
    running_since: dt.datetime | None = None
    first_response_warn: dt.datetime | None = None
    first_response_due: dt.datetime | None = None
    resolution_warn: dt.datetime | None = None
    resolution_due: dt.datetime | None = None


@dataclass(frozen=True)
class Alert:
    """A warning or breach that is due: `target` is FIRST_RESPONSE or RESOLUTION, `kind` WARNING or BREACH."""

    target: str
    kind: str
    due: dt.datetime


def validate_policy(
    name: str, customer_tier: str, targets: Mapping[str, Target], warning_percent: int
) -> tuple[str, str, int]:
    check = Validator()
    name = name.strip()
    if not name or len(name) > 200:
        check.add("name", "is required: at most 200 characters")
    tier = customer_tier.strip().lower()
    if len(tier) > 64:
        check.add("customer_tier", "at most 64 characters")
    if not targets:
        check.add("targets", "at least one target (for the NORMAL priority, say) is needed")
    for priority, target in targets.items():
        if priority not in PRIORITIES:
            check.add("targets", f"priority must be one of {', '.join(PRIORITIES)}")
        for minutes in (target.first_response_minutes, target.resolution_minutes):
            if not 1 <= minutes <= MAX_TARGET_MINUTES:
                check.add("targets", f"targets are 1 to {MAX_TARGET_MINUTES} business minutes")
                break
    if len(targets) != len(set(targets)):
        check.add("targets", "one target per priority")
    percent = warning_percent or 80
    if not 1 <= percent <= 99:
        check.add("warning_percent", "must be 1 to 99 (default 80)")
    check.raise_if_any()
    return name, tier, percent


def select_policy(policies: Iterable[SlaPolicy], customer_tier: str) -> SlaPolicy | None:
    """The policy of the ticket's tier, else the default policy (tier ''), else none."""
    by_tier = {p.customer_tier: p for p in sorted(policies, key=lambda p: p.id)}
    return by_tier.get(customer_tier) or by_tier.get("")


def target_for(policy: SlaPolicy, priority: str) -> Target | None:
    """The target of the priority, else that of the nearest priority below it that has one, else none."""
    index = PRIORITIES.index(priority) if priority in PRIORITIES else 1
    for candidate in reversed(PRIORITIES[: index + 1]):
        if candidate in policy.targets:
            return policy.targets[candidate]
    return None


def advance(
    state: SlaState,
    policy: SlaPolicy | None,
    status: str,
    priority: str,
    responded: bool,
    now: dt.datetime,
) -> SlaState:
    """The clock after the ticket's status, priority or response changed at `now`."""
    if policy is None:
        return SlaState()
    if state.policy_id != policy.id:
        state = SlaState(policy_id=policy.id, running_since=now)
    running = status in RUNNING_STATUSES
    if state.running_since is not None and not running:
        counted = business_seconds_between(policy.calendar, state.running_since, now)
        state = replace(state, elapsed_seconds=state.elapsed_seconds + counted, running_since=None)
    elif state.running_since is None and running:
        state = replace(state, running_since=now)
    return with_deadlines(state, policy, priority, responded)


def with_deadlines(state: SlaState, policy: SlaPolicy, priority: str, responded: bool) -> SlaState:
    target = target_for(policy, priority)
    since = state.running_since
    if since is None or target is None:
        return replace(
            state, first_response_warn=None, first_response_due=None, resolution_warn=None, resolution_due=None
        )

    def at(minutes: int, share: int = 100) -> dt.datetime:
        remaining = minutes * 60 * share // 100 - state.elapsed_seconds
        return add_business_seconds(policy.calendar, since, remaining)

    share = policy.warning_percent
    return replace(
        state,
        first_response_warn=None if responded else at(target.first_response_minutes, share),
        first_response_due=None if responded else at(target.first_response_minutes),
        resolution_warn=at(target.resolution_minutes, share),
        resolution_due=at(target.resolution_minutes),
    )


def alerts_due(state: SlaState, fired: Sequence[tuple[str, str]], now: dt.datetime) -> list[Alert]:
    """Warnings and breaches due by `now` that have not fired yet. A breach makes its own warning
    moot: when both are due (the scheduler was down), the warning is returned as fired-silently."""
    due = []
    for target, warn, deadline in (
        (FIRST_RESPONSE, state.first_response_warn, state.first_response_due),
        (RESOLUTION, state.resolution_warn, state.resolution_due),
    ):
        if deadline is not None and deadline <= now and (target, BREACH) not in fired:
            due.append(Alert(target, BREACH, deadline))
        elif warn is not None and warn <= now and (target, WARNING) not in fired and (target, BREACH) not in fired:
            due.append(Alert(target, WARNING, warn))
    return due


def late(state: SlaState, target: str, now: dt.datetime) -> Alert | None:
    """A breach to record when a target is met after its deadline (before the scheduler noticed)."""
    deadline = state.first_response_due if target == FIRST_RESPONSE else state.resolution_due
    return Alert(target, BREACH, deadline) if deadline is not None and deadline < now else None
