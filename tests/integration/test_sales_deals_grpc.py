"""Pipelines, opportunities, forecast and quotes over real gRPC on PostgreSQL (issue #4, points 5-8)."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from crm.sales.v1 import (
    events_pb2,
    opportunities_pb2,
    opportunities_pb2_grpc,
    pipelines_pb2,
    pipelines_pb2_grpc,
    quotes_pb2,
    quotes_pb2_grpc,
)
from google.protobuf import field_mask_pb2
from google.type import date_pb2, money_pb2

from crmkit.events.rabbitmq import RabbitBus
from crmkit.events.relay import OutboxRelay
from crmkit.events.transport import Subscription
from services.sales.store import OUTBOX
from tests.integration.events_support import drain
from tests.integration.sales_helpers import ADMIN_B, MANAGER_A, REP_A, as_
from tests.integration.support_helpers import code_of, violations

Stage = pipelines_pb2.Stage
Opp = opportunities_pb2.Opportunity


def usd(units: int, nanos: int = 0, code: str = "USD") -> money_pb2.Money:
    return money_pb2.Money(currency_code=code, units=units, nanos=nanos)


def standard_pipeline(name: str = "Sales") -> pipelines_pb2.Pipeline:
    return pipelines_pb2.Pipeline(
        name=name,
        stages=[
            Stage(name="Qualify", probability=10),
            Stage(name="Proposal", probability=60, required_fields=["amount", "closeDate"]),
            Stage(name="Commit", probability=90),
            Stage(name="Won", category=Stage.WON),
            Stage(name="Lost", category=Stage.LOST),
        ],
    )


@pytest.fixture
def stubs(sales_deals):
    return (
        sales_deals.stub(pipelines_pb2_grpc.PipelinesServiceStub),
        sales_deals.stub(opportunities_pb2_grpc.OpportunitiesServiceStub),
    )


def make_pipeline(pipelines, principal=MANAGER_A) -> pipelines_pb2.Pipeline:
    return pipelines.CreatePipeline(
        pipelines_pb2.CreatePipelineRequest(pipeline=standard_pipeline()), metadata=as_(principal)
    )


def stage_id(pipeline: pipelines_pb2.Pipeline, name: str) -> str:
    return next(s.id for s in pipeline.stages if s.name == name)


def test_a_pipeline_needs_won_and_lost_stages_unique_names_and_sane_probabilities(stubs):
    pipelines, _ = stubs
    bad = pipelines_pb2.Pipeline(
        name="Bad",
        stages=[Stage(name="A", probability=120), Stage(name="a"), Stage(name="B", required_fields=["colour"])],
    )
    fields = violations(
        lambda: pipelines.CreatePipeline(pipelines_pb2.CreatePipelineRequest(pipeline=bad), metadata=as_(MANAGER_A))
    )
    assert fields == {"stages[0].probability", "stages[1].name", "stages[2].requiredFields", "stages"}
    listed = pipelines.ListPipelines(pipelines_pb2.ListPipelinesRequest(), metadata=as_(MANAGER_A))
    assert list(listed.pipelines) == []


def test_stages_reorder_and_a_stage_in_use_cannot_be_deleted(stubs):
    pipelines, opportunities = stubs
    pipeline = make_pipeline(pipelines)
    assert [s.probability for s in pipeline.stages] == [10, 60, 90, 100, 0]
    ids = [s.id for s in pipeline.stages]
    reordered = pipelines.ReorderStages(
        pipelines_pb2.ReorderStagesRequest(id=pipeline.id, stage_ids=[ids[2], ids[0], ids[1], ids[3], ids[4]]),
        metadata=as_(MANAGER_A),
    )
    assert [s.name for s in reordered.stages] == ["Commit", "Qualify", "Proposal", "Won", "Lost"]
    assert reordered.etag != pipeline.etag
    opportunities.CreateOpportunity(
        opportunities_pb2.CreateOpportunityRequest(
            opportunity=Opp(name="Deal", pipeline_id=pipeline.id, stage_id=ids[0])
        ),
        metadata=as_(MANAGER_A),
    )
    without_qualify = pipelines_pb2.Pipeline(stages=[s for s in reordered.stages if s.name != "Qualify"])
    update = pipelines_pb2.UpdatePipelineRequest(
        id=pipeline.id, pipeline=without_qualify, update_mask=field_mask_pb2.FieldMask(paths=["stages"])
    )
    assert code_of(lambda: pipelines.UpdatePipeline(update, metadata=as_(MANAGER_A))) == (
        grpc.StatusCode.FAILED_PRECONDITION
    )
    delete = pipelines_pb2.DeletePipelineRequest(id=pipeline.id)
    assert code_of(lambda: pipelines.DeletePipeline(delete, metadata=as_(MANAGER_A))) == (
        grpc.StatusCode.FAILED_PRECONDITION
    )
    # An unused stage goes; a renamed one keeps its id.
    kept = [s for s in reordered.stages if s.name != "Commit"]
    kept[0].name = "Qualification"
    renamed = pipelines.UpdatePipeline(
        pipelines_pb2.UpdatePipelineRequest(id=pipeline.id, pipeline=pipelines_pb2.Pipeline(stages=kept)),
        metadata=as_(MANAGER_A),
    )
    assert next((s.id, s.name) for s in renamed.stages) == (ids[0], "Qualification")
    assert len(renamed.stages) == 4
    assert code_of(
        lambda: pipelines.GetPipeline(pipelines_pb2.GetPipelineRequest(id=pipeline.id), metadata=as_(ADMIN_B))
    ) == (grpc.StatusCode.NOT_FOUND)


def test_stage_moves_check_required_fields_and_reasons_and_write_nothing_when_refused(sales_deals, stubs):
    pipelines, opportunities = stubs
    pipeline = make_pipeline(pipelines)
    unknown = Opp(name="Deal", pipeline_id=pipeline.id, stage_id="NOPE")
    create = opportunities_pb2.CreateOpportunityRequest(opportunity=unknown)
    assert violations(lambda: opportunities.CreateOpportunity(create, metadata=as_(MANAGER_A))) == {"stageId"}
    created = opportunities.CreateOpportunity(
        opportunities_pb2.CreateOpportunityRequest(opportunity=Opp(name="Deal", pipeline_id=pipeline.id)),
        metadata=as_(MANAGER_A),
    )
    assert (created.stage_name, created.probability, created.forecast_category) == ("Qualify", 10, "PIPELINE")

    def move(fields: Opp, paths: list[str]):
        request = opportunities_pb2.UpdateOpportunityRequest(
            id=created.id, opportunity=fields, update_mask=field_mask_pb2.FieldMask(paths=paths)
        )
        return opportunities.UpdateOpportunity(request, metadata=as_(MANAGER_A))

    to_proposal = Opp(stage_id=stage_id(pipeline, "Proposal"))
    assert violations(lambda: move(to_proposal, ["stage_id"])) == {"amount", "closeDate"}
    with_amount = Opp(stage_id=stage_id(pipeline, "Proposal"), amount=usd(5000))
    assert violations(lambda: move(with_amount, ["stage_id", "amount"])) == {"closeDate"}
    unchanged = opportunities.GetOpportunity(
        opportunities_pb2.GetOpportunityRequest(id=created.id), metadata=as_(MANAGER_A)
    )
    assert unchanged.etag == created.etag and not unchanged.HasField("amount")

    proposal = move(
        Opp(
            stage_id=stage_id(pipeline, "Proposal"),
            amount=usd(5000),
            close_date=date_pb2.Date(year=2027, month=3, day=31),
        ),
        ["stage_id", "amount", "close_date"],
    )
    assert proposal.forecast_category == "BEST_CASE" and proposal.amount.units == 5000
    assert violations(lambda: move(Opp(), ["amount"])) == {"amount"}  # the stage requires it
    assert violations(lambda: move(Opp(stage_id=stage_id(pipeline, "Lost")), ["stage_id"])) == {"closeReason"}
    lost = move(Opp(stage_id=stage_id(pipeline, "Lost"), close_reason="budget cut"), ["stage_id", "close_reason"])
    assert (lost.stage_category, lost.forecast_category) == ("LOST", "OMITTED")

    history = opportunities.ListStageHistory(
        opportunities_pb2.ListStageHistoryRequest(id=created.id), metadata=as_(MANAGER_A)
    ).entries
    assert [(e.from_stage_id, e.to_stage_name) for e in history] == [
        ("", "Qualify"),
        (stage_id(pipeline, "Qualify"), "Proposal"),
        (stage_id(pipeline, "Proposal"), "Lost"),
    ]
    assert history[0].HasField("leave_time") and not history[2].HasField("leave_time")
    assert history[2].reason == "budget cut"
    assert sales_deals.event_types(created.id) == [
        "OpportunityCreated",
        "OpportunityStageChanged",
        "OpportunityStageChanged",
        "OpportunityLost",
    ]
    lost_event = events_pb2.OpportunityLost.FromString(sales_deals.events(created.id)[-1].data)
    assert lost_event.reason == "budget cut" and lost_event.opportunity.stage_category == "lost"
    assert lost_event.opportunity.amount.units == 5000


def test_amounts_are_iso_4217_with_the_currencys_decimals(stubs):
    pipelines, opportunities = stubs
    pipeline = make_pipeline(pipelines)

    def create(amount: money_pb2.Money):
        opportunity = Opp(name="Deal", pipeline_id=pipeline.id, amount=amount)
        return opportunities.CreateOpportunity(
            opportunities_pb2.CreateOpportunityRequest(opportunity=opportunity), metadata=as_(MANAGER_A)
        )

    assert violations(lambda: create(usd(10, code="ZZZ"))) == {"amount.currencyCode"}
    assert violations(lambda: create(usd(10, 500_000_000, code="JPY"))) == {"amount.nanos"}
    assert violations(lambda: create(usd(10, 5_000_000))) == {"amount.nanos"}  # 10.005 USD
    assert violations(lambda: create(usd(-10))) == {"amount.units"}
    assert create(usd(10, 990_000_000)).amount == usd(10, 990_000_000)
    assert create(usd(1, 234_000_000, code="BHD")).amount.nanos == 234_000_000  # three decimals


def test_the_contact_is_checked_with_the_contacts_service_as_the_caller(sales_deals, stubs):
    pipelines, opportunities = stubs
    pipeline = make_pipeline(pipelines)
    contacts = contacts_pb2_grpc.ContactsServiceStub(sales_deals.contacts)
    contact = contacts.CreateContact(
        contacts_pb2.CreateContactRequest(contact=contacts_pb2.Contact(given_name="Ada")), metadata=as_(MANAGER_A)
    )
    linked = opportunities.CreateOpportunity(
        opportunities_pb2.CreateOpportunityRequest(
            opportunity=Opp(name="Deal", pipeline_id=pipeline.id, contact_id=contact.id, account_id="ACC1")
        ),
        metadata=as_(MANAGER_A),
    )
    assert linked.contact_id == contact.id
    pipeline_b = make_pipeline(pipelines, ADMIN_B)
    foreign = opportunities_pb2.CreateOpportunityRequest(
        opportunity=Opp(name="Deal", pipeline_id=pipeline_b.id, contact_id=contact.id)
    )
    assert violations(lambda: opportunities.CreateOpportunity(foreign, metadata=as_(ADMIN_B))) == {"contactId"}


def test_a_sales_rep_sees_and_lists_only_its_own_opportunities(stubs):
    pipelines, opportunities = stubs
    pipeline = make_pipeline(pipelines)

    def create(principal, name: str):
        request = opportunities_pb2.CreateOpportunityRequest(opportunity=Opp(name=name, pipeline_id=pipeline.id))
        return opportunities.CreateOpportunity(request, metadata=as_(principal))

    mine = create(REP_A, "Mine")
    theirs = create(MANAGER_A, "Theirs")
    assert mine.owner_id == "user:rep"
    listed = opportunities.ListOpportunities(opportunities_pb2.ListOpportunitiesRequest(), metadata=as_(REP_A))
    assert [o.name for o in listed.opportunities] == ["Mine"]
    get = opportunities_pb2.GetOpportunityRequest(id=theirs.id)
    assert code_of(lambda: opportunities.GetOpportunity(get, metadata=as_(REP_A))) == grpc.StatusCode.NOT_FOUND
    everyone = opportunities.ListOpportunities(
        opportunities_pb2.ListOpportunitiesRequest(filter='stageCategory = "OPEN"', order_by="name desc", page_size=1),
        metadata=as_(MANAGER_A),
    )
    assert [o.name for o in everyone.opportunities] == ["Theirs"] and everyone.next_page_token
    second = opportunities.ListOpportunities(
        opportunities_pb2.ListOpportunitiesRequest(
            filter='stageCategory = "OPEN"', order_by="name desc", page_size=1, page_token=everyone.next_page_token
        ),
        metadata=as_(MANAGER_A),
    )
    assert [o.name for o in second.opportunities] == ["Mine"]


def test_the_forecast_sums_per_period_owner_pipeline_and_currency(stubs, sales_deals):
    pipelines, opportunities = stubs
    analytics = sales_deals.stub(opportunities_pb2_grpc.SalesAnalyticsServiceStub)
    pipeline = make_pipeline(pipelines)
    close = date_pb2.Date(year=2027, month=2, day=15)

    def deal(stage: str, amount: money_pb2.Money, reason: str = "") -> Opp:
        opportunity = Opp(
            name=stage,
            pipeline_id=pipeline.id,
            stage_id=stage_id(pipeline, stage),
            amount=amount,
            close_date=close,
            close_reason=reason,
        )
        request = opportunities_pb2.CreateOpportunityRequest(opportunity=opportunity)
        return opportunities.CreateOpportunity(request, metadata=as_(MANAGER_A))

    deal("Qualify", usd(1000))  # pipeline, 10 %
    deal("Proposal", usd(2000, 10_000_000))  # best case, 60 %: 2000.01
    deal("Commit", usd(3000))  # commit, 90 %
    deal("Won", usd(4000))
    deal("Lost", usd(500), "price")
    deal("Commit", usd(700, code="EUR"))
    forecast = analytics.GetSalesForecast(
        opportunities_pb2.GetSalesForecastRequest(period=opportunities_pb2.GetSalesForecastRequest.QUARTER),
        metadata=as_(MANAGER_A),
    )
    rows = {r.currency_code: r for r in forecast.rows}
    assert set(rows) == {"EUR", "USD"}
    us = rows["USD"]
    assert (us.period, us.owner_id, us.open_count) == ("2027-Q1", "user:manager", 3)
    assert us.open_amount == usd(6000, 10_000_000)
    # 1000 x 0.1 + 2000.01 x 0.6 + 3000 x 0.9 = 100 + 1200.006 + 2700 = 4000.006 -> 4000.01 (half-even)
    assert us.weighted_amount == usd(4000, 10_000_000)
    assert (us.pipeline_amount, us.best_case_amount, us.commit_amount) == (usd(1000), usd(2000, 10_000_000), usd(3000))
    assert us.closed_amount == usd(4000) and us.average_deal_size == usd(4000)
    assert (us.won_count, us.lost_count, us.win_rate) == (1, 1, 0.5)
    assert rows["EUR"].commit_amount == usd(700, code="EUR")
    conversions = {c.stage_name: (c.entered, c.advanced) for c in forecast.stage_conversions}
    assert conversions == {"Qualify": (1, 0), "Proposal": (1, 0), "Commit": (2, 0)}
    # By owner the history itself is scanned: the same figures as the running totals.
    by_owner = analytics.GetSalesForecast(
        opportunities_pb2.GetSalesForecastRequest(owner_id="user:manager"), metadata=as_(MANAGER_A)
    )
    assert list(by_owner.stage_conversions) == list(forecast.stage_conversions)
    # Whole months come from the running totals, a range cut inside a month from the opportunities
    # (ADR 0073): every deal closes on 2027-02-15, so all of these answer the same rows.
    monthly = [
        analytics.GetSalesForecast(
            opportunities_pb2.GetSalesForecastRequest(close_date_from=first, close_date_to=last),
            metadata=as_(MANAGER_A),
        ).rows
        for first, last in (("", ""), ("2027-02-01", "2027-02-28"), ("2027-02-10", "2027-02-15"), ("2027-01-20", ""))
    ]
    assert len(monthly[0]) == 2 and all(rows == monthly[0] for rows in monthly)
    gone = deal("Qualify", usd(1))
    opportunities.DeleteOpportunity(opportunities_pb2.DeleteOpportunityRequest(id=gone.id), metadata=as_(MANAGER_A))
    after_delete = analytics.GetSalesForecast(opportunities_pb2.GetSalesForecastRequest(), metadata=as_(MANAGER_A))
    assert list(after_delete.stage_conversions) == list(forecast.stage_conversions)
    overdue_close = date_pb2.Date(year=2020, month=1, day=1)
    late = opportunities.CreateOpportunity(
        opportunities_pb2.CreateOpportunityRequest(
            opportunity=Opp(name="Late", pipeline_id=pipeline.id, close_date=overdue_close)
        ),
        metadata=as_(MANAGER_A),
    )
    at_risk = analytics.GetSalesForecast(opportunities_pb2.GetSalesForecastRequest(), metadata=as_(MANAGER_A)).at_risk
    assert [(a.opportunity_id, list(a.reasons)) for a in at_risk] == [(late.id, ["OVERDUE"])]
    assert analytics.GetSalesForecast(opportunities_pb2.GetSalesForecastRequest(), metadata=as_(REP_A)).rows == []


def test_quotes_price_exactly_refuse_mixed_currencies_and_publish_acceptance(sales_deals, stubs, amqp_url, amqp_prefix):
    pipelines, opportunities = stubs
    products = sales_deals.stub(quotes_pb2_grpc.ProductsServiceStub)
    quotes = sales_deals.stub(quotes_pb2_grpc.QuotesServiceStub)
    pipeline = make_pipeline(pipelines)
    deal = opportunities.CreateOpportunity(
        opportunities_pb2.CreateOpportunityRequest(
            opportunity=Opp(name="Deal", pipeline_id=pipeline.id, amount=usd(100))
        ),
        metadata=as_(MANAGER_A),
    )
    widget = products.CreateProduct(
        quotes_pb2.CreateProductRequest(
            product=quotes_pb2.Product(sku="W-1", name="Widget", unit_price=usd(19, 990_000_000), tax_rate_percent="19")
        ),
        metadata=as_(MANAGER_A),
    )
    assert widget.active
    duplicate = quotes_pb2.CreateProductRequest(product=quotes_pb2.Product(sku="w-1", name="Other", unit_price=usd(1)))
    assert code_of(lambda: products.CreateProduct(duplicate, metadata=as_(MANAGER_A))) == grpc.StatusCode.ALREADY_EXISTS

    Line = quotes_pb2.QuoteLine
    bad = quotes_pb2.Quote(
        opportunity_id=deal.id,
        lines=[
            Line(product_id=widget.id, quantity="-1"),
            Line(name="Setup", quantity="1", unit_price=usd(100)),
            Line(name="Travel", quantity="1", unit_price=usd(50, code="EUR")),
        ],
    )
    assert violations(
        lambda: quotes.CreateQuote(quotes_pb2.CreateQuoteRequest(quote=bad), metadata=as_(MANAGER_A))
    ) == {
        "lines[0].quantity",
        "lines[2].unitPrice.currencyCode",
    }
    assert list(quotes.ListQuotes(quotes_pb2.ListQuotesRequest(), metadata=as_(MANAGER_A)).quotes) == []

    good = quotes_pb2.Quote(
        opportunity_id=deal.id,
        lines=[
            Line(product_id=widget.id, quantity="3", discount_percent="10"),  # 59.97 - 5.997 = 53.973 -> 53.97
            Line(
                name="Setup", quantity="1.5", unit_price=usd(33, 330_000_000), tax_rate_percent="7"
            ),  # 49.995 -> 50.00
        ],
    )
    first = quotes.CreateQuote(quotes_pb2.CreateQuoteRequest(quote=good), metadata=as_(MANAGER_A))
    second = quotes.CreateQuote(quotes_pb2.CreateQuoteRequest(quote=good), metadata=as_(MANAGER_A))
    assert (first.number, second.number, first.currency_code) == ("Q-000001", "Q-000002", "USD")
    assert [line.net_amount for line in first.lines] == [usd(53, 970_000_000), usd(50)]
    # tax: 53.97 x 19 % = 10.2543 -> 10.25; 50.00 x 7 % = 3.50
    assert [line.tax_amount for line in first.lines] == [usd(10, 250_000_000), usd(3, 500_000_000)]
    assert (first.net_total, first.tax_total, first.grand_total) == (
        usd(103, 970_000_000),
        usd(13, 750_000_000),
        usd(117, 720_000_000),
    )
    assert first.lines[0].sku == "W-1" and first.lines[0].tax_rate_percent == "19"

    accept = quotes_pb2.QuoteTransitionRequest(id=first.id)
    assert code_of(lambda: quotes.AcceptQuote(accept, metadata=as_(MANAGER_A))) == grpc.StatusCode.FAILED_PRECONDITION
    sent = quotes.SendQuote(quotes_pb2.QuoteTransitionRequest(id=first.id), metadata=as_(MANAGER_A))
    edit = quotes_pb2.UpdateQuoteRequest(
        id=first.id, quote=quotes_pb2.Quote(lines=[Line(name="x", quantity="1", unit_price=usd(1))])
    )
    assert code_of(lambda: quotes.UpdateQuote(edit, metadata=as_(MANAGER_A))) == grpc.StatusCode.FAILED_PRECONDITION
    accepted = quotes.AcceptQuote(
        quotes_pb2.QuoteTransitionRequest(id=first.id, etag=sent.etag), metadata=as_(MANAGER_A)
    )
    assert accepted.status == quotes_pb2.Quote.ACCEPTED
    reject = quotes_pb2.QuoteTransitionRequest(id=first.id)
    assert code_of(lambda: quotes.RejectQuote(reject, metadata=as_(MANAGER_A))) == grpc.StatusCode.FAILED_PRECONDITION

    # The event leaves through the outbox relay onto RabbitMQ.
    sink = Subscription("test.consumer", ("crm.sales.v1.QuoteAccepted",))
    bus = RabbitBus(amqp_url, amqp_prefix, retry_delays_ms=(50,))
    bus.declare(sink)
    relay = OutboxRelay(sales_deals.database, OUTBOX, bus.publisher(), source="sales")
    while relay.publish_batch():
        pass
    [(_, body)] = drain(bus, sink.consumer)
    from crm.events.v1.envelope_pb2 import Envelope

    envelope = Envelope.FromString(body)
    event = events_pb2.QuoteAccepted.FromString(envelope.data)
    assert (envelope.tenant, event.quote_number, event.opportunity_id) == ("TENANT_A", "Q-000001", deal.id)
    assert event.grand_total == usd(117, 720_000_000) and len(event.lines) == 2
    assert event.lines[1].quantity == "1.5" and event.lines[1].net_amount == usd(50)
    assert dt.datetime.now(dt.UTC) - event.accept_time.ToDatetime(dt.UTC) < dt.timedelta(minutes=5)
