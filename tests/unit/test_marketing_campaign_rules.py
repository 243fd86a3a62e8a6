"""Campaign rules (pure): the send budget from stored facts, exact revenue shares, ROI, validation."""

from __future__ import annotations

import datetime as dt

import pytest

from crmkit.errors import InvalidArgument, Validator
from services.marketing.domain.campaigns import (
    NANOS,
    CampaignFields,
    Cost,
    money_nanos,
    normalise,
    roi,
    send_budget,
    split_revenue,
)

START = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def test_the_budget_follows_the_rate_since_the_start_whatever_was_handled_before_a_restart() -> None:
    assert send_budget(60, START, START, 0) == 1  # the first one at once
    assert send_budget(60, START, START + dt.timedelta(seconds=30), 1) == 30
    assert send_budget(60, START, START + dt.timedelta(seconds=30), 31) == 0  # no burst after a restart
    assert send_budget(1, START, START + dt.timedelta(minutes=10), 3) == 8  # a stalled sender catches up
    assert send_budget(600, START, START - dt.timedelta(seconds=5), 0) == 1  # clock skew: never negative time


def test_revenue_is_split_equally_and_exactly_and_roi_needs_a_cost() -> None:
    shares = split_revenue(100 * NANOS + 1, ["C2", "C1", "C3", "C1"])
    assert sum(shares.values()) == 100 * NANOS + 1 and set(shares) == {"C1", "C2", "C3"}
    assert shares["C1"] == shares["C2"] + 2 == shares["C3"] + 2  # the remainder (2) to the first by id
    assert split_revenue(5, []) == {}
    assert roi(1000 * NANOS, Cost("EUR", 100 * NANOS)) == pytest.approx(9.0)
    assert roi(1000 * NANOS, None) is None and roi(5, Cost("EUR", 0)) is None


def test_fields_are_checked_by_name_and_a_cost_is_a_positive_money() -> None:
    with pytest.raises(InvalidArgument) as caught:
        normalise(CampaignFields(name=" ", from_address="not mail", send_rate_per_minute=-1, subject="{% if %}"))
    assert {v.field for v in caught.value.violations} == {
        "name",
        "segmentId",
        "templateId",
        "fromAddress",
        "sendRatePerMinute",
        "subject",
    }
    assert normalise(CampaignFields("N", "S", "T")).send_rate_per_minute == 600
    check = Validator()
    assert money_nanos("cost", "EUR", 12, 500_000_000, check) == Cost("EUR", 12 * NANOS + 500_000_000)
    money_nanos("cost", "eur", -1, 5, check)
    assert {v.field for v in check.violations} == {"cost.currencyCode", "cost.nanos", "cost"}
