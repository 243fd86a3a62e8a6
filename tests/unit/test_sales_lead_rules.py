"""Lead rules without I/O: lifecycle, assignment (conditions, round robin, capacity, fallback) and
scoring (attribute points, engagement decay on a fixed clock, threshold crossings)."""

from __future__ import annotations

import datetime as dt

import pytest

from crmkit.errors import InvalidArgument
from services.sales.domain import leads, scoring
from services.sales.domain.assignment import AssignmentRule, Condition, choose_owner, validate_rule
from services.sales.domain.leads import LeadFields
from services.sales.domain.scoring import Engagement, ScoringRule

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def rule(
    name: str, owners: tuple[str, ...], *, capacity: int = 0, cursor: int = 0, **conditions: str
) -> AssignmentRule:
    return AssignmentRule(
        id=name,
        tenant_id="T",
        name=name,
        position=0,
        conditions=tuple(Condition(k, tuple(v.split("|"))) for k, v in conditions.items()),
        territory="",
        owner_ids=owners,
        capacity_per_owner=capacity,
        create_time=NOW,
        cursor=cursor,
    )


# ---- lifecycle -------------------------------------------------------------------------------


def test_a_lead_is_normalised_like_a_contact():
    lead = leads.new_lead("L1", "T", LeadFields(email=" Ada@EXAMPLE.com ", phone="+1 415 555 0123", country="de"), NOW)
    assert lead.data.email == "Ada@example.com"
    assert lead.data.phone == "+14155550123"
    assert lead.data.country == "DE" and lead.data.status == "new"


def test_bad_fields_are_all_named_at_once():
    with pytest.raises(InvalidArgument) as caught:
        leads.new_lead("L1", "T", LeadFields(email="nope", phone="12", country="Germany"), NOW)
    assert {v.field for v in caught.value.violations} == {"email", "phone", "country"}


@pytest.mark.parametrize(
    ("start", "to", "allowed"),
    [
        ("new", "working", True),
        ("working", "qualified", True),
        ("working", "disqualified", True),
        ("disqualified", "working", True),
        ("new", "converted", False),
        ("qualified", "new", False),
        ("converted", "working", False),
    ],
)
def test_status_moves_follow_the_lifecycle(start, to, allowed):
    lead = leads.new_lead("L1", "T", LeadFields(given_name="Ada"), NOW)
    lead = lead.__class__(**{**lead.__dict__, "data": LeadFields(given_name="Ada", status=start)})
    if allowed:
        updated, changed = leads.apply_update(lead, LeadFields(status=to), ["status"], NOW)
        assert changed == ["status"] and updated.data.status == to
    else:
        with pytest.raises(InvalidArgument) as caught:
            leads.apply_update(lead, LeadFields(status=to), ["status"], NOW)
        assert caught.value.violations[0].field == "status"


# ---- assignment ------------------------------------------------------------------------------


def test_the_first_matching_rule_assigns_and_says_why():
    rules = [rule("DACH", ("anna",), country="DE|AT|CH"), rule("Rest", ("bob",))]
    decision = choose_owner(rules, LeadFields(country="at"), {})
    assert decision.owner_id == "anna" and decision.rule_id == "DACH"
    assert "DACH" in decision.reason and "country in (DE, AT, CH)" in decision.reason
    fallback = choose_owner(rules, LeadFields(country="US"), {})
    assert fallback.owner_id == "bob" and "fallback" in fallback.reason


def test_all_conditions_must_hold():
    saas_in_de = rule("SaaS DE", ("anna",), country="DE", industry="saas")
    assert choose_owner([saas_in_de], LeadFields(country="DE", industry="SaaS"), {}).owner_id == "anna"
    assert choose_owner([saas_in_de], LeadFields(country="DE", industry="retail"), {}).owner_id == ""


def test_round_robin_takes_the_team_in_turn_from_the_cursor():
    owners = []
    cursor = 0
    for _ in range(4):
        decision = choose_owner([rule("Team", ("a", "b", "c"), cursor=cursor)], LeadFields(company="X"), {})
        owners.append(decision.owner_id)
        cursor = decision.next_cursor
    assert owners == ["a", "b", "c", "a"]


def test_a_rep_at_capacity_is_skipped_and_a_full_team_passes_the_lead_on():
    team = rule("Team", ("a", "b"), capacity=2)
    decision = choose_owner([team], LeadFields(company="X"), {"a": 2, "b": 1})
    assert decision.owner_id == "b" and "skipped at capacity: a" in decision.reason
    assert decision.next_cursor == 0  # after b (index 1) comes a again
    full = choose_owner([team, rule("Overflow", ("z",))], LeadFields(company="X"), {"a": 2, "b": 2})
    assert full.owner_id == "z" and "every rep is at capacity 2" in full.reason
    nobody = choose_owner([team], LeadFields(company="X"), {"a": 2, "b": 2})
    assert nobody.owner_id == "" and nobody.reason.startswith("left unassigned")


def test_a_rule_needs_owners_and_known_attributes():
    with pytest.raises(InvalidArgument) as caught:
        validate_rule(rule("Bad", (), colour="red"))
    assert {v.field for v in caught.value.violations} == {"conditions[0].attribute", "owner_ids"}


# ---- scoring ---------------------------------------------------------------------------------


def test_attribute_rules_add_their_points():
    rules = [
        ScoringRule("R1", "T", "industry", "SaaS", 10, NOW),
        ScoringRule("R2", "T", "companySize", "51-200", 5, NOW),
        ScoringRule("R3", "T", "customAttributes.plan", "trial", -3, NOW),
    ]
    data = LeadFields(industry="saas", company_size="51-200", custom_attributes={"plan": "Trial"})
    points, reasons = scoring.attribute_points(rules, data)
    assert points == 12 and len(reasons) == 3


def test_engagement_halves_every_half_life():
    engagement = Engagement().plus(10, NOW, half_life_days=30)
    assert engagement.at(NOW, 30) == 10
    assert engagement.at(NOW + dt.timedelta(days=30), 30) == pytest.approx(5)
    assert engagement.at(NOW + dt.timedelta(days=60), 30) == pytest.approx(2.5)
    # A click a month later: the first points have halved, the new ones count in full.
    later = engagement.plus(5, NOW + dt.timedelta(days=30), 30)
    assert later.at(NOW + dt.timedelta(days=30), 30) == pytest.approx(10)


def test_an_older_event_arriving_late_counts_decayed():
    engagement = Engagement().plus(10, NOW, 30).plus(8, NOW - dt.timedelta(days=30), 30)
    assert engagement.as_of == NOW and engagement.at(NOW, 30) == pytest.approx(14)


def test_the_score_rounds_decayed_engagement_and_adds_attribute_points():
    engagement = Engagement(7.0, NOW)
    assert scoring.score(10, engagement, NOW + dt.timedelta(days=30), 30) == 14  # 10 + round(3.5)


def test_a_crossing_is_reported_once_in_each_direction():
    assert scoring.crossing(False, 40, 55, 50) == scoring.Crossing(True, 40, 50)
    assert scoring.crossing(True, 55, 60, 50) is None  # still above: nothing new
    assert scoring.crossing(True, 60, 49, 50) == scoring.Crossing(False, 60, 50)
    assert scoring.crossing(False, 49, 30, 50) is None
    assert scoring.crossing(False, 0, 50, 50) is not None  # reaching it counts as above
