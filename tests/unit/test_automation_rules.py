"""Automation rules as pure logic: validation, conditions over event data, the loop guard, planning
actions, and the causation chain's transport helpers."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from crmkit import causation, filtering
from crmkit.errors import InvalidArgument, Validator
from crmkit.grpcclient import IdentityAndDeadline
from crmkit.tokens import InternalTokens, Principal, acting_as
from services.integrations.automation import domain as rules
from services.integrations.automation.domain import Action, ActionFailed, Rule, RuleFields
from services.integrations.webhooks import catalog

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def validated(fields: RuleFields) -> RuleFields:
    check = Validator()
    cleaned = rules.validate_fields(fields, catalog.EVENT_TYPES, check)
    check.raise_if_any()
    return cleaned


def problems(fields: RuleFields) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as raised:
        validated(fields)
    return {v.field: v.description for v in raised.value.violations}


def a_rule(event_type: str, condition: str = "", *actions: Action, rule_id: str = "R1") -> Rule:
    fields = validated(RuleFields("r", "", event_type, condition, actions or (Action("assign_owner", owner_id="u1"),)))
    return Rule(rule_id, "T", fields, rules.ENABLED, NOW, NOW)


def test_each_problem_is_named_by_its_field():
    found = problems(
        RuleFields(
            "",
            "",
            "contact.exploded",
            "title = = 1",
            (
                Action("update_field", field="email", value="x"),
                Action("send_email", subject="{{ oops", text_body="hi"),
                Action(""),
            ),
        )
    )
    assert set(found) >= {
        "display_name",
        "event_type",
        "condition",
        "actions[0].updateField.field",
        "actions[1].sendEmail.subject",
        "actions[2]",
    }
    assert "syntax error" in found["condition"]


def test_actions_must_fit_the_events_record():
    found = problems(
        RuleFields(
            "r",
            "",
            "survey.answered",
            "",
            (Action("assign_owner", owner_id="u1"), Action("send_email", subject="s", text_body="b")),
        )
    )
    assert "actions[0]" in found and "actions[1].sendEmail.to" in found
    ticket = validated(
        RuleFields("r", "", "ticket.created", "", (Action("update_field", field="priority", value="HIGH"),))
    )
    assert ticket.actions[0].field == "priority"
    custom = validated(RuleFields("r", "", "contact.created", "", (Action("update_field", field="customFields.tier"),)))
    assert custom.actions[0].field == "customFields.tier"


def test_a_rule_needs_between_one_and_ten_actions():
    assert "actions" in problems(RuleFields("r", "", "contact.created", "", ()))
    many = tuple(Action("assign_owner", owner_id="u") for _ in range(11))
    assert problems(RuleFields("r", "", "contact.created", "", many))["actions"] == "at most 10 actions"


def test_a_condition_is_an_aip160_filter_over_the_events_data():
    rule = a_rule("contact.updated", 'contact.title = "CTO" AND changedFields : "title" AND NOT contact.tags : spam')
    data = {"contact": {"id": "c1", "title": "CTO", "tags": ["vip"]}, "changedFields": "title,ownerId"}
    assert rules.matches(rule, "contact.updated", data)
    assert not rules.matches(rule, "contact.updated", {**data, "contact": {**data["contact"], "tags": ["SPAM"]}})
    assert not rules.matches(rule, "contact.created", data), "another event type"


def test_the_evaluator_compares_by_the_literals_kind():
    def holds(text: str, document: dict) -> bool:
        return filtering.evaluate(filtering.parse(text), document)

    document = {"score": "42", "done": True, "email": "Ada@Acme.example", "tags": ["a", "B"], "nested": {"x": 1}}
    assert holds("score > 40 AND score <= 42", document)
    assert holds("done = true", document) and not holds("done = false", document)
    assert holds('email : "acme"', document) and holds("tags : b", document) and not holds("tags : c", document)
    assert holds("nested.x = 1 OR nested.x = 2", document)
    assert holds('missing != "x"', document) and not holds('missing = ""', document)
    assert holds('createTime >= "2026-01-01T00:00:00Z"', {"createTime": "2026-11-23T10:00:00Z"})
    assert holds("", document)


def test_a_rule_is_refused_inside_its_own_chain_and_past_the_depth_limit():
    assert rules.loop_reason("A", ()) == ""
    assert rules.loop_reason("B", ("A",)) == ""
    refused = rules.loop_reason("A", ("A", "B"))
    assert refused.startswith("loop:") and "A → B → A" in refused
    assert rules.loop_reason("F", ("A", "B", "C", "D", "E"), max_depth=5).startswith("too deep")
    assert rules.loop_reason("F", ("A", "B", "C", "D"), max_depth=5) == ""


def test_a_task_goes_to_the_owner_an_earlier_action_assigns():
    rule = a_rule(
        "contact.created",
        "",
        Action("assign_owner", owner_id="rep-7"),
        Action("create_task", subject="Call {{ record.givenName }}", due_in_hours=2),
    )
    planned = rules.plan(rule.data.actions[1], rule, "contact.created", {"id": "c1", "givenName": "Ada"})
    assert planned.values == {"contact_id": "c1", "subject": "Call Ada", "body": "", "owner_id": "rep-7"} | {
        "due_in_hours": 2
    }


def test_a_ticket_task_goes_on_its_requester_and_an_email_to_the_contacts_address():
    rule = a_rule("ticket.created", "", Action("create_task", subject="Follow up {{ record.subject }}"))
    planned = rules.plan(
        rule.data.actions[0], rule, "ticket.created", {"id": "t1", "requesterId": "c9", "subject": "X"}
    )
    assert (planned.values["contact_id"], planned.values["subject"]) == ("c9", "Follow up X")
    mail = a_rule("contact.created", "", Action("send_email", subject="Hi {{ data.givenName }}", text_body="Hello"))
    sent = rules.plan(
        mail.data.actions[0], mail, "contact.created", {"id": "c1", "givenName": "Ada", "email": "a@x.io"}
    )
    assert sent.values["to"] == ["a@x.io"] and sent.values["subject"] == "Hi Ada"
    with pytest.raises(ActionFailed, match="no email address"):
        rules.plan(mail.data.actions[0], mail, "contact.created", {"id": "c2", "givenName": "Bo"})


def test_templates_run_sandboxed_and_a_misspelt_variable_fails_the_action():
    rule = a_rule("contact.created", "", Action("update_field", field="title", value="{{ record.nope }}"))
    with pytest.raises(ActionFailed, match="value"):
        rules.plan(rule.data.actions[0], rule, "contact.created", {"id": "c1"})
    unsafe = a_rule("contact.created", "", Action("update_field", field="title", value="{{ ''.__class__ }}"))
    with pytest.raises(ActionFailed):
        rules.plan(unsafe.data.actions[0], unsafe, "contact.created", {"id": "c1"})


def test_the_etag_follows_the_actions():
    first = a_rule("contact.created", "", Action("assign_owner", owner_id="a"))
    second = a_rule("contact.created", "", Action("assign_owner", owner_id="b"))
    assert (
        first.etag != second.etag
        and first.etag == a_rule("contact.created", "", Action("assign_owner", owner_id="a")).etag
    )


def test_the_causation_chain_survives_metadata_and_drops_malformed_links():
    assert causation.from_metadata(causation.to_metadata(("01A", "01B"))) == ("01A", "01B")
    assert causation.from_metadata(b"01A, bad link!,01B") == ("01A", "01B")
    assert causation.from_metadata("") == ()
    assert len(causation.clean([f"r{i}" for i in range(100)])) == causation.MAX_LINKS


def test_a_service_call_carries_the_bound_chain_as_metadata():
    tokens = InternalTokens("k" * 40)
    captured = []
    details = SimpleNamespace(
        method="/x.Y/Z", timeout=None, metadata=None, credentials=None, wait_for_ready=None, compression=None
    )
    interceptor = IdentityAndDeadline(deadline_seconds=3)
    with acting_as(tokens, Principal("T", "automation:R1", frozenset())):
        interceptor.intercept_unary_unary(lambda d, _r: captured.append(d), details, b"")
        with causation.bound(("R0", "R1")):
            interceptor.intercept_unary_unary(lambda d, _r: captured.append(d), details, b"")
    assert [k for k, _ in captured[0].metadata] == ["authorization"], "no chain, no header"
    assert dict(captured[1].metadata)[causation.METADATA_KEY] == "R0,R1"


def test_the_subject_is_the_record_the_event_is_about():
    assert rules.subject_id_of("contact.created", {"id": "c1", "ownerId": "u"}) == "c1"
    assert rules.subject_id_of("contact.updated", {"contact": {"id": "c1"}, "changedFields": "title"}) == "c1"
    assert rules.subject_id_of("contact.deleted", {"contactId": "c1"}) == "c1"
    assert rules.subject_id_of("ticket.comment_added", {"id": "m1", "ticketId": "t1", "body": "hi"}) == "t1"
    assert rules.subject_id_of("ticket.assigned", {"ticketId": "t1", "assigneeId": "a1"}) == "t1"
