"""The SLA clock with fixed instants: targets by priority and tier, pauses, reopen, alerts."""

import datetime as dt

import pytest

from crmkit.errors import InvalidArgument
from services.support.domain.business_hours import parse_calendar
from services.support.domain.sla import (
    BREACH,
    FIRST_RESPONSE,
    RESOLUTION,
    WARNING,
    SlaPolicy,
    SlaState,
    Target,
    advance,
    alerts_due,
    late,
    select_policy,
    target_for,
    validate_policy,
)

HOUR = dt.timedelta(hours=1)
OFFICE = parse_calendar("UTC", [(d, "09:00", "17:00") for d in range(1, 6)], [])
MONDAY_9 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


def policy(tier="", policy_id="P1", **targets):
    targets = targets or {"NORMAL": Target(60, 8 * 60), "URGENT": Target(15, 120)}
    return SlaPolicy(policy_id, "TENANT", "Standard", tier, OFFICE, targets, 80, MONDAY_9)


def test_the_tiers_own_policy_wins_over_the_default():
    default, premium = policy(policy_id="P1"), policy("premium", policy_id="P2")
    assert select_policy([default, premium], "premium") is premium
    assert select_policy([default, premium], "gold") is default
    assert select_policy([premium], "gold") is None


def test_a_priority_without_its_own_target_takes_the_next_lower_one():
    rules = policy()
    assert target_for(rules, "HIGH") == Target(60, 480)
    assert target_for(rules, "URGENT") == Target(15, 120)
    assert target_for(rules, "LOW") is None


def test_a_new_ticket_gets_deadlines_in_business_time():
    state = advance(SlaState(), policy(), "NEW", "NORMAL", False, MONDAY_9 + 7 * HOUR)  # Monday 16:00
    assert state.first_response_due == MONDAY_9 + 8 * HOUR  # 1 hour: Monday 16-17
    assert state.first_response_warn == MONDAY_9 + 7 * HOUR + dt.timedelta(minutes=48)
    assert state.resolution_due == MONDAY_9 + 24 * HOUR + 7 * HOUR  # 8 hours: 1 Monday + 7 Tuesday


def test_the_clock_pauses_while_pending_and_resumes_where_it_stopped():
    rules = policy()
    state = advance(SlaState(), rules, "OPEN", "NORMAL", True, MONDAY_9)
    state = advance(state, rules, "PENDING", "NORMAL", True, MONDAY_9 + 2 * HOUR)
    assert (state.elapsed_seconds, state.running_since, state.resolution_due) == (7200, None, None)
    resumed_at = MONDAY_9 + 24 * HOUR  # Tuesday 09:00, a whole day waiting on the customer
    state = advance(state, rules, "OPEN", "NORMAL", True, resumed_at)
    assert state.resolution_due == resumed_at + 6 * HOUR
    assert state.first_response_due is None, "responded: nothing left to breach"


def test_solving_stops_the_clock_and_reopening_resumes_it():
    rules = policy()
    state = advance(SlaState(), rules, "OPEN", "NORMAL", True, MONDAY_9)
    state = advance(state, rules, "SOLVED", "NORMAL", True, MONDAY_9 + 3 * HOUR)
    assert state.resolution_due is None and state.elapsed_seconds == 3 * 3600
    state = advance(state, rules, "OPEN", "NORMAL", True, MONDAY_9 + 4 * HOUR)
    assert state.resolution_due == MONDAY_9 + 25 * HOUR, "5 hours left: Monday 13-17 and Tuesday 9-10"


def test_a_priority_change_moves_the_deadlines():
    rules = policy()
    state = advance(SlaState(), rules, "NEW", "NORMAL", False, MONDAY_9)
    urgent = advance(state, rules, "NEW", "URGENT", False, MONDAY_9 + dt.timedelta(minutes=5))
    assert urgent.first_response_due == MONDAY_9 + dt.timedelta(minutes=15)
    assert urgent.resolution_due == MONDAY_9 + 2 * HOUR


def test_without_a_policy_there_is_no_clock():
    assert advance(SlaState(), None, "NEW", "NORMAL", False, MONDAY_9) == SlaState()


def test_alerts_fire_once_and_a_breach_supersedes_its_warning():
    state = advance(SlaState(), policy(), "NEW", "NORMAL", False, MONDAY_9)
    assert alerts_due(state, [], MONDAY_9 + dt.timedelta(minutes=10)) == []
    [warning] = alerts_due(state, [], MONDAY_9 + dt.timedelta(minutes=50))
    assert (warning.target, warning.kind) == (FIRST_RESPONSE, WARNING)
    assert alerts_due(state, [(FIRST_RESPONSE, WARNING)], MONDAY_9 + dt.timedelta(minutes=50)) == []
    late_scan = alerts_due(state, [], MONDAY_9 + 2 * HOUR)
    assert [(a.target, a.kind) for a in late_scan] == [(FIRST_RESPONSE, BREACH)]
    after_breach = alerts_due(state, [(FIRST_RESPONSE, BREACH)], MONDAY_9 + 7 * HOUR)
    assert [(a.target, a.kind) for a in after_breach] == [(RESOLUTION, WARNING)]


def test_a_target_met_after_its_deadline_is_a_breach():
    state = advance(SlaState(), policy(), "NEW", "NORMAL", False, MONDAY_9)
    assert late(state, FIRST_RESPONSE, MONDAY_9 + dt.timedelta(minutes=59)) is None
    assert late(state, FIRST_RESPONSE, MONDAY_9 + 2 * HOUR).kind == BREACH


def test_policies_are_validated_field_by_field():
    with pytest.raises(InvalidArgument) as caught:
        validate_policy("", "x" * 65, {"SOON": Target(0, 10)}, 120)
    assert {v.field for v in caught.value.violations} == {"name", "customer_tier", "targets", "warning_percent"}
    assert validate_policy(" Gold ", "Premium", {"NORMAL": Target(60, 480)}, 0) == ("Gold", "premium", 80)
