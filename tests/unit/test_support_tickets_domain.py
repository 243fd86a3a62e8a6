import datetime as dt

import pytest

from crmkit.errors import Aborted, FailedPrecondition, InvalidArgument
from services.support.domain.tickets import (
    TRANSITIONS,
    TicketFields,
    apply_update,
    assign,
    check_etag,
    new_comment,
    new_ticket,
    parse_filter,
    raise_priority,
    record_first_response,
    transition,
)

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(minutes=5)


def ticket(**fields):
    return new_ticket(
        "T1", "TENANT", TicketFields(**{"subject": "Printer on fire", "requester_id": "C1", **fields}), NOW
    )


def fields_of(error: InvalidArgument) -> set[str]:
    return {v.field for v in error.violations}


def test_a_new_ticket_gets_defaults_and_starts_new():
    created = ticket()
    assert (created.data.status, created.data.priority, created.data.channel) == ("NEW", "NORMAL", "API")
    assert created.etag


def test_every_bad_field_is_reported_at_once_by_name():
    with pytest.raises(InvalidArgument) as caught:
        new_ticket(
            "T1",
            "TENANT",
            TicketFields(
                subject="", requester_id="", priority="SOON", channel="FAX", tags=("",), customer_tier="x" * 70
            ),
            NOW,
        )
    assert fields_of(caught.value) == {"subject", "requester_id", "priority", "channel", "tags", "customer_tier"}


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        (["NEW", "OPEN", "PENDING", "OPEN", "SOLVED", "CLOSED"], True),
        (["NEW", "OPEN", "SOLVED", "OPEN", "SOLVED"], True),
        (["NEW", "OPEN", "SOLVED", "CLOSED", "OPEN"], False),
        (["NEW", "OPEN", "NEW"], False),
        (["NEW", "PENDING", "SOLVED", "PENDING"], False),
    ],
)
def test_the_status_lifecycle_allows_only_its_transitions(path, allowed):
    current = ticket()
    try:
        for status in path[1:]:
            current = transition(current, status, LATER)
    except FailedPrecondition:
        assert not allowed
    else:
        assert allowed and current.status == path[-1]


def test_closed_is_final_and_reopen_counts():
    assert TRANSITIONS["CLOSED"] == frozenset()
    solved = transition(transition(ticket(), "OPEN", NOW), "SOLVED", LATER)
    assert solved.solve_time == LATER
    reopened = transition(solved, "OPEN", LATER)
    assert reopened.reopen_count == 1
    closed = transition(solved, "CLOSED", LATER)
    with pytest.raises(FailedPrecondition, match="closed"):
        apply_update(closed, TicketFields(subject="again"), ["subject"], LATER)


def test_an_update_changes_only_masked_fields_and_a_new_etag():
    original = ticket(tags=("a",))
    updated, changed = apply_update(original, TicketFields(subject="New", priority="HIGH"), ["priority"], LATER)
    assert changed == ["priority"]
    assert (updated.data.subject, updated.data.priority) == ("Printer on fire", "HIGH")
    assert updated.etag != original.etag
    same, nothing = apply_update(original, TicketFields(priority="NORMAL"), ["priority"], LATER)
    assert nothing == [] and same is original


def test_an_update_mask_refuses_unknown_and_immutable_fields():
    with pytest.raises(InvalidArgument) as caught:
        apply_update(ticket(), TicketFields(), ["nonsense", "external_thread_id"], LATER)
    assert fields_of(caught.value) == {"update_mask"}


def test_a_status_change_through_update_is_validated():
    with pytest.raises(FailedPrecondition):
        apply_update(transition(ticket(), "CLOSED", NOW), TicketFields(status="OPEN"), ["status"], LATER)
    with pytest.raises(FailedPrecondition):
        apply_update(transition(ticket(), "OPEN", NOW), TicketFields(status="NEW"), ["status"], LATER)
    solved, _ = apply_update(ticket(), TicketFields(status="SOLVED"), ["status"], LATER)
    assert solved.solve_time == LATER


def test_a_stale_etag_is_aborted():
    with pytest.raises(Aborted):
        check_etag(ticket(), "stale")
    check_etag(ticket(), "")


def test_assigning_a_new_ticket_opens_it_and_unassigning_keeps_the_group():
    assigned = assign(ticket(group_id="G1"), "A1", "", LATER)
    assert (assigned.data.assignee_id, assigned.status, assigned.data.group_id) == ("A1", "OPEN", "G1")
    queued = assign(assigned, "", "", LATER)
    assert (queued.data.assignee_id, queued.status, queued.data.group_id) == ("", "OPEN", "G1")


def test_the_first_public_agent_reply_is_the_first_response():
    original = ticket()
    note = new_comment("K1", original, "internal", "INTERNAL", "AGENT", "A1", "", "", NOW)
    assert record_first_response(original, note) is original
    from_requester = new_comment("K2", original, "hello?", "PUBLIC", "REQUESTER", "C1", "", "", NOW)
    assert record_first_response(original, from_requester) is original
    reply = new_comment("K3", original, "on it", "", "", "A1", "<m1@x>", "", LATER)
    responded = record_first_response(original, reply)
    assert responded.first_response_time == LATER
    later_reply = new_comment("K4", responded, "done", "", "", "A1", "", "", LATER + dt.timedelta(hours=1))
    assert record_first_response(responded, later_reply).first_response_time == LATER


def test_a_comment_is_validated_and_closed_tickets_take_none():
    with pytest.raises(InvalidArgument) as caught:
        new_comment("K1", ticket(), " ", "SHOUT", "REQUESTER", "C1", "", "", NOW)
    assert fields_of(caught.value) == {"body", "visibility"}
    with pytest.raises(FailedPrecondition):
        new_comment("K1", transition(ticket(), "CLOSED", NOW), "hi", "", "", "A1", "", "", NOW)


def test_priority_escalates_one_step_and_stops_at_urgent():
    assert raise_priority(ticket(priority="LOW"), LATER).data.priority == "NORMAL"
    urgent = ticket(priority="URGENT")
    assert raise_priority(urgent, LATER) is urgent


def test_filters_are_conjunctions_of_known_equalities():
    assert parse_filter('status = "OPEN" AND assigneeId = "A1"') == {"status": "OPEN", "assignee_id": "A1"}
    assert parse_filter('assigneeId = ""') == {"assignee_id": ""}
    assert parse_filter("priority = HIGH") == {"priority": "HIGH"}
    for bad in ('subject = "x"', 'status = "SLEEPING"', "status >", 'status = "OPEN" OR status = "NEW"'):
        with pytest.raises(InvalidArgument) as caught:
            parse_filter(bad)
        assert fields_of(caught.value) == {"filter"}
