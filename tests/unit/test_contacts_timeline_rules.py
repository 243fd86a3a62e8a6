"""Activity rules and what goes on a timeline: pure functions, no I/O."""

import datetime as dt

import pytest

from crmkit.errors import InvalidArgument
from crmkit.etags import etag_of
from services.contacts.activity_rules import ActivityFields, apply_update, new_activity
from services.contacts.timeline_rules import Money, activity_entries, deal_entry, shorten

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(hours=1)


def test_a_task_is_done_then_reopened_and_its_done_time_follows():
    task = new_activity("A1", "T1", ActivityFields(kind="TASK", subject="Call back", contact_ids=("C1",)), NOW)
    assert task.done_time is None and task.data.occur_time is None
    done, changed = apply_update(task, ActivityFields(done=True), ["done"], LATER)
    assert changed == ["done"] and done.done_time == LATER and done.etag != task.etag
    reopened, _ = apply_update(done, ActivityFields(done=False), ["done"], LATER + dt.timedelta(minutes=1))
    assert reopened.done_time is None


def test_the_kind_never_changes_but_sending_it_unchanged_is_fine():
    note = new_activity("A1", "T1", ActivityFields(kind="NOTE", subject="Hi", account_ids=("ACME",)), NOW)
    with pytest.raises(InvalidArgument) as caught:
        apply_update(note, ActivityFields(kind="CALL"), ["kind"], LATER)
    assert caught.value.violations[0].field == "kind"
    same, changed = apply_update(note, ActivityFields(kind="NOTE", subject="Hello"), ["kind", "subject"], LATER)
    assert changed == ["subject"] and same.data.subject == "Hello"


def test_an_activity_sits_on_each_linked_timeline_at_its_own_time():
    meeting = new_activity(
        "A1",
        "T1",
        ActivityFields(
            kind="MEETING", subject="Kick-off", occur_time=LATER, contact_ids=("C1", "C2"), account_ids=("X",)
        ),
        NOW,
    )
    entries = activity_entries(meeting)
    assert [(e.contact_id, e.account_id) for e in entries] == [("C1", ""), ("C2", ""), ("", "X")]
    assert {(e.kind, e.title, e.occur_time, e.source_id) for e in entries} == {
        ("activity.meeting", "Meeting: Kick-off", LATER, "A1")
    }


def test_deal_entries_say_what_happened_with_money_never_as_a_float():
    snapshot = {
        "id": "O1",
        "name": "Renewal",
        "stage_id": "S2",
        "stage_name": "Propose",
        "stage_category": "open",
        "pipeline_id": "P",
        "owner_id": "u",
        "contact_id": "C1",
        "account_id": "",
    }
    entry = deal_entry("deal.stage_changed", snapshot, NOW, Money("EUR", 1500, 500_000_000), from_stage="Qualify")
    assert entry.title == "Deal moved to Propose: Renewal"
    assert entry.summary == "1500.50 EUR · from Qualify to Propose"
    assert entry.attributes["amount"] == {"currencyCode": "EUR", "units": "1500", "nanos": 500_000_000}
    assert str(Money("", 0, 0)) == ""


def test_long_text_is_shortened_to_one_line():
    assert shorten("a\n b  c") == "a b c"
    assert len(shorten("x" * 900)) == 500


def test_etags_cover_times_in_the_state():
    first = new_activity("A1", "T1", ActivityFields(kind="CALL", subject="s", contact_ids=("C",), occur_time=NOW), NOW)
    moved = ActivityFields(kind="CALL", subject="s", contact_ids=("C",), occur_time=LATER)
    assert etag_of("A1", first.data, NOW) != etag_of("A1", moved, NOW)
