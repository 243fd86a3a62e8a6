"""Money, rounding and tax; forecast categories; pipeline and stage rules (pure Python)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from crmkit.errors import FailedPrecondition, InvalidArgument, Validator
from services.sales.domain import forecast, money, opportunities, pipelines, quotes
from services.sales.domain.money import Money
from services.sales.domain.opportunities import OpportunityFields
from services.sales.domain.pipelines import LOST, OPEN, WON, PipelineFields, Stage

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
counter = iter(range(10_000))


def next_id() -> str:
    return f"S{next(counter)}"


def fields_of(error: pytest.ExceptionInfo[InvalidArgument]) -> set[str]:
    return {v.field for v in error.value.violations}


# --- money ---


@pytest.mark.parametrize(("currency", "places"), [("USD", 2), ("EUR", 2), ("JPY", 0), ("BHD", 3)])
def test_minor_units_come_from_the_currency(currency, places):
    assert money.exponent(currency) == places
    assert Money.of_minor(currency, 12345).minor == 12345
    assert Money.of_minor(currency, 12345).amount == Decimal(12345).scaleb(-places)


def test_codes_that_are_not_iso_4217_money_are_refused():
    assert money.is_iso_currency("EUR")
    for code in ("eur", "EURO", "ZZZ", "XXX", "XTS", ""):
        assert not money.is_iso_currency(code), code


def test_parts_off_the_minor_unit_grid_are_refused_naming_the_part():
    check = Validator()
    assert money.from_parts(check, "amount", "JPY", 10, 500_000_000) is None
    assert money.from_parts(check, "amount", "USD", 1, -5) is None
    assert [v.field for v in check.violations] == ["amount.nanos", "amount.nanos"]
    assert money.from_parts(Validator(), "amount", "USD", -3, -250_000_000) == Money("USD", Decimal("-3.25"))


def test_units_and_nanos_round_trip_for_negative_amounts():
    assert Money("USD", Decimal("-3.25")).to_units_nanos() == (-3, -250_000_000)
    assert Money("BHD", Decimal("0.005")).to_units_nanos() == (0, 5_000_000)


def test_a_line_rounds_half_up_per_line_to_the_minor_unit():
    # 3 x 0.335 = 1.005 -> 1.01 (half-up; half-even would give 1.00)
    net, tax, total = quotes.price_line(Decimal(3), Money("USD", Decimal("0.335")), Decimal(0), Decimal(0))
    assert net == Money("USD", Decimal("1.01"))
    # JPY has no decimals: 3 x 333 x 0.9 = 899.1 -> 899; tax 10 % = 89.9 -> 90
    net, tax, total = quotes.price_line(Decimal(3), Money("JPY", Decimal(333)), Decimal(10), Decimal(10))
    assert (net.amount, tax.amount, total.amount) == (Decimal(899), Decimal(90), Decimal(989))


def test_totals_are_the_exact_sums_of_the_rounded_lines():
    given = [
        quotes.LineInput(name="a", quantity="1", unit_price=Money("EUR", Decimal("0.05")), tax_rate_percent="19"),
        quotes.LineInput(name="b", quantity="1", unit_price=Money("EUR", Decimal("0.05")), tax_rate_percent="19"),
    ]
    lines = quotes.build_lines("EUR", given, {})
    # each line's tax 0.0095 -> 0.01; the total tax is the sum of the lines' (0.02), not 0.019 rounded
    assert quotes.totals_of("EUR", lines) == quotes.Totals(
        Money("EUR", Decimal("0.10")), Money("EUR", Decimal("0.02")), Money("EUR", Decimal("0.12"))
    )


def test_bad_lines_name_their_index_and_field():
    given = [
        quotes.LineInput(name="a", quantity="0", unit_price=Money("EUR", Decimal(1))),
        quotes.LineInput(name="b", quantity="1", unit_price=Money("EUR", Decimal(1)), discount_percent="101"),
        quotes.LineInput(name="c", quantity="1", unit_price=Money("USD", Decimal(1))),
        quotes.LineInput(name="", quantity="1"),
        quotes.LineInput(name="e", quantity="abc", unit_price=Money("EUR", Decimal(1))),
    ]
    with pytest.raises(InvalidArgument) as caught:
        quotes.build_lines("EUR", given, {})
    assert fields_of(caught) == {
        "lines[0].quantity",
        "lines[1].discountPercent",
        "lines[2].unitPrice.currencyCode",
        "lines[3].name",
        "lines[3].unitPrice",
        "lines[4].quantity",
    }


def test_quote_states_move_only_forward():
    lines = quotes.build_lines(
        "EUR", [quotes.LineInput(name="a", quantity="1", unit_price=Money("EUR", Decimal(1)))], {}
    )
    draft = quotes.Quote(
        "Q", "T", "Q-000001", "O", "EUR", lines, quotes.totals_of("EUR", lines), quotes.DRAFT, "", "", "", NOW, NOW, "e"
    )
    with pytest.raises(FailedPrecondition):
        quotes.transition(draft, "accept", NOW)
    sent = quotes.transition(draft, "send", NOW)
    with pytest.raises(FailedPrecondition):
        quotes.check_editable(sent)
    assert quotes.transition(sent, "reject", NOW).status == quotes.REJECTED
    assert quotes.quote_number(42) == "Q-000042"


# --- forecast categories ---


@pytest.mark.parametrize(
    ("category", "probability", "expected"),
    [
        (OPEN, 0, forecast.PIPELINE),
        (OPEN, 59, forecast.PIPELINE),
        (OPEN, 60, forecast.BEST_CASE),
        (OPEN, 89, forecast.BEST_CASE),
        (OPEN, 90, forecast.COMMIT),
        (OPEN, 100, forecast.COMMIT),
        (WON, 100, forecast.CLOSED),
        (LOST, 0, forecast.OMITTED),
    ],
)
def test_forecast_category_follows_the_stage(category, probability, expected):
    assert forecast.forecast_category(category, probability) == expected


def test_period_labels():
    assert forecast.period_label(2027, 2, quarterly=False) == "2027-02"
    assert forecast.period_label(2027, 12, quarterly=True) == "2027-Q4"


# --- pipelines and stages ---


def standard() -> pipelines.Pipeline:
    data = PipelineFields(
        "Sales",
        (
            Stage("", "Qualify", 10, OPEN),
            Stage("", "Proposal", 60, OPEN, ("amount", "closeDate")),
            Stage("", "Won", 30, WON),
            Stage("", "Lost", 30, LOST),
        ),
    )
    return pipelines.new_pipeline("P1", "T", data, NOW, next_id)


def test_won_and_lost_stages_have_fixed_probabilities_and_every_stage_an_id():
    pipeline = standard()
    assert [s.probability for s in pipeline.data.stages] == [10, 60, 100, 0]
    assert all(s.id for s in pipeline.data.stages)


def test_a_pipeline_without_a_lost_stage_or_with_twin_names_is_refused():
    data = PipelineFields("X", (Stage("", "A", 10, OPEN), Stage("", "a", 10, OPEN), Stage("", "W", 0, WON)))
    with pytest.raises(InvalidArgument) as caught:
        pipelines.new_pipeline("P", "T", data, NOW, next_id)
    assert fields_of(caught) == {"stages[1].name", "stages"}


def test_reordering_must_name_every_stage_once():
    pipeline = standard()
    ids = [s.id for s in pipeline.data.stages]
    assert next(s.name for s in pipelines.reordered(pipeline, ids[::-1], NOW).data.stages) == "Lost"
    with pytest.raises(InvalidArgument) as caught:
        pipelines.reordered(pipeline, ids[:2], NOW)
    assert fields_of(caught) == {"stageIds"}


def test_entering_a_stage_needs_its_required_fields_and_lost_needs_a_reason():
    pipeline = standard()
    qualify, proposal, _, lost = pipeline.data.stages
    data = OpportunityFields(name="Deal", pipeline_id="P1", stage_id=proposal.id)
    with pytest.raises(InvalidArgument) as caught:
        opportunities.place(data, pipeline, None)
    assert fields_of(caught) == {"amount", "closeDate"}
    with pytest.raises(InvalidArgument) as caught:
        opportunities.place(OpportunityFields(name="D", pipeline_id="P1", stage_id=lost.id), pipeline, None)
    assert fields_of(caught) == {"closeReason"}
    with pytest.raises(InvalidArgument) as caught:
        opportunities.place(OpportunityFields(name="D", pipeline_id="P1", stage_id="nope"), pipeline, None)
    assert fields_of(caught) == {"stageId"}
    assert opportunities.place(OpportunityFields(name="D", pipeline_id="P1"), pipeline, None) == qualify


def test_conversions_count_stints_that_moved_forward_but_not_into_lost():
    pipeline = standard()
    qualify, proposal, won, lost = pipeline.data.stages
    placed = [forecast.PlacedStage("P1", i, s) for i, s in enumerate(pipeline.data.stages)]
    flows = [
        forecast.FlowTotal("", qualify.id, 10, 0, 0),
        forecast.FlowTotal(qualify.id, proposal.id, 6, 600, 6),  # forward
        forecast.FlowTotal(qualify.id, lost.id, 3, 0, 0),  # lost is not progress
        forecast.FlowTotal(proposal.id, won.id, 2, 0, 0),
        forecast.FlowTotal(proposal.id, qualify.id, 1, 50, 1),  # backwards
    ]
    found = {c.stage_name: (c.entered, c.advanced) for c in forecast.conversions(placed, flows)}
    assert found == {"Qualify": (11, 6), "Proposal": (6, 2)}
    assert forecast.typical_stays(flows) == {proposal.id: 100.0, qualify.id: 50.0}


def test_forecast_periods_are_labelled_from_their_integer_keys():
    from services.sales.deal_store import period_label

    assert period_label(202702, quarterly=False) == "2027-02"
    assert period_label(20274, quarterly=True) == "2027-Q4"
    assert period_label(None, quarterly=True) == ""
