"""Sequence definitions: every problem named by its JSON path, and where an enrolment goes next."""

from __future__ import annotations

import datetime as dt

import pytest

from crmkit.errors import FailedPrecondition, InvalidArgument
from services.marketing.domain import AudienceMember
from services.marketing.domain import segments as segment_rules
from services.marketing.domain import sequences as rules
from services.marketing.domain.sequences import SequenceFields, Step

EMAIL = Step(rules.EMAIL, template_id="T1")
WAIT = Step(rules.WAIT, delay=dt.timedelta(days=2))
NOW = dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)


def fields_of(error: InvalidArgument) -> set[str]:
    return {v.field for v in error.violations}


def test_every_problem_of_a_definition_is_named_by_its_path():
    steps = (
        Step(rules.EMAIL, template_id=""),
        Step(rules.WAIT, delay=dt.timedelta(0)),
        Step(rules.CONDITION, rules={"engagement": "opened", "step": 2}, else_step=1),
        Step(""),
    )
    with pytest.raises(InvalidArgument) as caught:
        rules.validate(SequenceFields("", "", steps))
    assert fields_of(caught.value) == {
        "name",
        "steps[0].email.templateId",
        "steps[1].wait.delay",
        "steps[2].condition.rules.step",  # step 2 is a wait, not an email
        "steps[2].condition.elseStep",  # backwards
        "steps[3]",
    }


def test_a_sequence_needs_an_email_step_and_a_condition_its_rules():
    with pytest.raises(InvalidArgument) as caught:
        rules.validate(SequenceFields("Nurture", "", (WAIT,)))
    assert fields_of(caught.value) == {"steps"}
    with pytest.raises(InvalidArgument) as caught:
        rules.validate(SequenceFields("Nurture", "", (EMAIL, Step(rules.CONDITION))))
    assert fields_of(caught.value) == {"steps[1].condition.rules"}


def test_a_condition_uses_the_segment_rule_language_and_may_name_earlier_email_steps():
    condition = Step(
        rules.CONDITION,
        rules={
            "all": [
                {"engagement": "opened", "step": 1},
                {"field": "lifecycleStage", "operator": "equals", "value": "LEAD"},
            ]
        },
        else_step=4,
    )
    valid = rules.validate(SequenceFields(" Nurture ", "", (EMAIL, condition, EMAIL)))
    assert valid.name == "Nurture"
    parsed = rules.condition_rule(valid.steps, 1)
    assert isinstance(parsed, segment_rules.All)
    # Segments themselves know no steps.
    with pytest.raises(InvalidArgument) as caught:
        segment_rules.parse({"engagement": "opened", "step": 1})
    assert fields_of(caught.value) == {"rules", "rules.withinDays"}


def test_a_step_condition_looks_at_that_steps_message_only():
    member = AudienceMember("T", "C1", "a@example.com", "A", "B", "LEAD", (), NOW)
    rule = segment_rules.parse({"engagement": "opened", "step": 1}, steps={1})
    opened_other = [segment_rules.Engagement("opened", "", NOW, message_id="M-OTHER")]
    opened_ours = [segment_rules.Engagement("opened", "", NOW - dt.timedelta(days=900), message_id="M1")]
    assert not segment_rules.matches(rule, member, opened_other, NOW, {1: "M1"})
    assert segment_rules.matches(rule, member, opened_ours, NOW, {1: "M1"})
    assert not segment_rules.matches(rule, member, opened_ours, NOW, {1: ""}), "a step that sent nothing"


def test_moves_after_each_kind_of_step():
    condition = Step(rules.CONDITION, rules={"engagement": "opened", "step": 1}, else_step=4)
    exiting = Step(rules.CONDITION, rules={"engagement": "opened", "step": 1})
    steps = (EMAIL, WAIT, condition, EMAIL, exiting, EMAIL)
    assert rules.after(steps, 0, rules.SENT) == rules.Move(1)
    assert rules.after(steps, 1, rules.WAITED) == rules.Move(2, dt.timedelta(days=2))
    assert rules.after(steps, 2, rules.TRUE) == rules.Move(3)
    assert rules.after(steps, 2, rules.FALSE) == rules.Move(3)  # else_step 4 is index 3
    assert rules.after(steps, 4, rules.FALSE) == rules.Move(None, status=rules.EXITED, exit_reason="CONDITION_NOT_MET")
    assert rules.after(steps, 5, rules.NOT_SENT) == rules.Move(None, status=rules.COMPLETED)


def test_steps_survive_storage_and_states_change_only_forward():
    steps = (EMAIL, WAIT, Step(rules.CONDITION, rules={"engagement": "clicked", "withinDays": 3}, else_step=0))
    assert rules.steps_from_json(rules.steps_to_json(steps)) == steps
    rules.check_transition(rules.DRAFT, rules.ACTIVE)
    rules.check_transition(rules.ACTIVE, rules.PAUSED)
    with pytest.raises(FailedPrecondition):
        rules.check_transition(rules.DRAFT, rules.PAUSED)
    with pytest.raises(FailedPrecondition):
        rules.check_transition(rules.ARCHIVED, rules.ACTIVE)
