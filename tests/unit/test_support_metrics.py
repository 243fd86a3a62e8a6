"""Support metrics aggregation: exact figures from fixed facts."""

import datetime as dt

import pytest

from crmkit.errors import InvalidArgument
from services.support.domain.metrics import SurveyAnswer, TicketFacts, aggregate, status_at, validate_period

T0 = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
END = T0 + dt.timedelta(days=1)
H = dt.timedelta(hours=1)


def facts(ticket_id, agent, created, first=None, solved=None, reopens=0, sla=True, breached=(), status="OPEN"):
    return TicketFacts(ticket_id, agent, "g1", created, first, solved, reopens, sla, frozenset(breached), status)


TICKETS = [
    facts("t1", "a1", T0, first=T0 + 0.5 * H, solved=T0 + 2 * H, status="CLOSED"),
    facts("t2", "a1", T0 + H, T0 + 2.5 * H, T0 + 7 * H, 1, breached={"FIRST_RESPONSE", "RESOLUTION"}, status="OPEN"),
    facts("t3", "a2", T0 + 2 * H, status="NEW"),
    facts("t4", "a2", T0 + 3 * H, first=T0 + 3 * H + dt.timedelta(minutes=10), status="PENDING"),
    facts("t5", "a2", T0 - 24 * H, status="NEW"),  # before the period: backlog only
    facts("t6", "a2", END + H, status="NEW"),  # after it: nothing
    facts("t7", "a2", T0 + 4 * H, first=T0 + 5 * H, sla=False, status="SOLVED", solved=T0 + 6 * H),
]
ANSWERS = [
    SurveyAnswer("CSAT", "a1", "g1", 5, T0 + 3 * H),
    SurveyAnswer("CSAT", "a1", "g1", 3, T0 + 9 * H),
    SurveyAnswer("CSAT", "a2", "g1", 4, T0 + 9 * H),
    SurveyAnswer("CSAT", "a2", "g1", 1, END),  # after the period
    SurveyAnswer("NPS", "", "", 10, T0 + H),
    SurveyAnswer("NPS", "", "", 9, T0 + H),
    SurveyAnswer("NPS", "", "", 7, T0 + H),
    SurveyAnswer("NPS", "", "", 2, T0 + H),
]


def test_overall_figures_are_exact():
    row = aggregate(TICKETS, ANSWERS, T0, END).overall
    assert row.tickets_created == 5
    assert row.first_response == [1800, 5400, 600, 3600]
    assert (row.first_response_average, row.first_response_median) == (2850, 2700)
    assert (row.resolution_average, row.resolution_median) == ((7200 + 21600 + 7200) / 3, 7200)
    # t1 met both, t2 missed both, t4 met its first response; t3 is running; t7 has no SLA.
    assert (row.sla_targets, row.sla_targets_met, row.sla_compliance) == (5, 3, 0.6)
    assert row.backlog == 4  # t2, t3, t4, t5
    assert (row.solved_tickets, row.reopened_tickets, row.reopen_rate) == (3, 1, 1 / 3)
    assert (len(row.csat), row.csat_average, row.csat_satisfied_rate) == (3, 4.0, 2 / 3)
    assert (len(row.nps), row.nps_score) == (4, 25.0)  # 2 promoters - 1 detractor, of 4 answers


def test_rows_per_agent_split_the_same_figures():
    report = aggregate(TICKETS, ANSWERS, T0, END, "AGENT")
    by_key = {r.key: r for r in report.rows}
    assert set(by_key) == {"", "a1", "a2"}
    a1, a2 = by_key["a1"], by_key["a2"]
    assert (a1.tickets_created, a1.first_response_average, a1.sla_compliance, a1.backlog) == (2, 3600, 0.5, 1)
    assert (a2.tickets_created, a2.first_response_median, a2.sla_targets, a2.backlog) == (3, 2100, 1, 3)
    assert (a1.csat_average, a2.csat_average) == (4.0, 4.0)
    assert by_key[""].nps_score == 25.0


def test_empty_period_has_zero_rates_and_no_durations():
    row = aggregate([], [], T0, END).overall
    assert (row.tickets_created, row.sla_compliance, row.reopen_rate, row.nps_score) == (0, 0.0, 0.0, 0.0)
    assert row.first_response_average is None and row.resolution_median is None


def test_status_at_the_end_of_the_period_comes_from_the_history():
    changes = [(T0 + H, "status OPEN -> SOLVED"), (T0 + 30 * H, "status SOLVED -> CLOSED")]
    assert status_at("CLOSED", changes, END) == "SOLVED"
    assert status_at("CLOSED", changes, T0) == "OPEN"
    assert status_at("PENDING", [], T0) == "PENDING"


@pytest.mark.parametrize(
    ("start", "end", "group_by", "fields"),
    [
        (None, None, "", {"start_time", "end_time"}),
        (END, T0, "", {"end_time"}),
        (T0, T0 + dt.timedelta(days=400), "", {"end_time"}),
        (T0, END, "?", {"group_by"}),
    ],
)
def test_a_bad_period_names_its_fields(start, end, group_by, fields):
    with pytest.raises(InvalidArgument) as error:
        validate_period(start, end, group_by)
    assert {v.field for v in error.value.violations} == fields
