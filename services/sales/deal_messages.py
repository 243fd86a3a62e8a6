"""Protobuf <-> domain for pipelines, opportunities, forecasts and quotes."""

from __future__ import annotations

import datetime as dt

from crm.sales.v1 import events_pb2, opportunities_pb2, pipelines_pb2, quotes_pb2
from google.type import date_pb2, money_pb2

from crmkit.errors import Validator
from services.sales.domain import money
from services.sales.domain.forecast import forecast_category
from services.sales.domain.money import Money
from services.sales.domain.opportunities import Opportunity, OpportunityFields
from services.sales.domain.pipelines import OPEN, Pipeline, PipelineFields, Stage
from services.sales.domain.quotes import Line, LineInput, Product, ProductFields, Quote

Category = pipelines_pb2.Stage.Category
QuoteStatus = quotes_pb2.Quote.Status


def money_to_proto(value: Money | None) -> money_pb2.Money | None:
    if value is None:
        return None
    units, nanos = value.to_units_nanos()
    return money_pb2.Money(currency_code=value.currency, units=units, nanos=nanos)


def money_from_proto(check: Validator, field: str, message: money_pb2.Money) -> Money | None:
    return money.from_parts(check, field, message.currency_code, message.units, message.nanos)


def date_from_proto(check: Validator, field: str, message: date_pb2.Date) -> dt.date | None:
    if message.year == 0 and message.month == 0 and message.day == 0:
        return None
    try:
        return dt.date(message.year, message.month, message.day)
    except ValueError:
        check.add(field, "is not a calendar date (give year, month and day)")
        return None


def date_to_proto(value: dt.date | None) -> date_pb2.Date | None:
    return None if value is None else date_pb2.Date(year=value.year, month=value.month, day=value.day)


# --- pipelines ---


def pipeline_fields_from_proto(message: pipelines_pb2.Pipeline) -> PipelineFields:
    stages = tuple(
        Stage(
            s.id,
            s.name,
            s.probability,
            Category.Name(s.category) if s.category else "",
            tuple(s.required_fields),
        )
        for s in message.stages
    )
    return PipelineFields(message.name, stages)


def pipeline_to_proto(pipeline: Pipeline) -> pipelines_pb2.Pipeline:
    message = pipelines_pb2.Pipeline(
        id=pipeline.id,
        name=pipeline.data.name,
        stages=[
            pipelines_pb2.Stage(
                id=s.id,
                name=s.name,
                probability=s.probability,
                category=Category.Value(s.category),
                required_fields=s.required_fields,
            )
            for s in pipeline.data.stages
        ],
        etag=pipeline.etag,
    )
    message.create_time.FromDatetime(pipeline.create_time)
    message.update_time.FromDatetime(pipeline.update_time)
    return message


# --- opportunities ---


def opportunity_fields_from_proto(message: opportunities_pb2.Opportunity) -> OpportunityFields:
    check = Validator()
    amount = money_from_proto(check, "amount", message.amount) if message.HasField("amount") else None
    close_date = date_from_proto(check, "closeDate", message.close_date) if message.HasField("close_date") else None
    check.raise_if_any()
    return OpportunityFields(
        name=message.name,
        account_id=message.account_id,
        contact_id=message.contact_id,
        pipeline_id=message.pipeline_id,
        stage_id=message.stage_id,
        amount=amount,
        close_date=close_date,
        owner_id=message.owner_id,
        close_reason=message.close_reason,
    )


def opportunity_to_proto(opportunity: Opportunity, stage: Stage | None) -> opportunities_pb2.Opportunity:
    data = opportunity.data
    category = stage.category if stage else OPEN
    probability = stage.probability if stage else 0
    message = opportunities_pb2.Opportunity(
        id=opportunity.id,
        name=data.name,
        account_id=data.account_id,
        contact_id=data.contact_id,
        pipeline_id=data.pipeline_id,
        stage_id=data.stage_id,
        amount=money_to_proto(data.amount),
        close_date=date_to_proto(data.close_date),
        owner_id=data.owner_id,
        close_reason=data.close_reason,
        stage_name=stage.name if stage else "",
        stage_category=category,
        probability=probability,
        forecast_category=forecast_category(category, probability),
        etag=opportunity.etag,
    )
    message.stage_enter_time.FromDatetime(opportunity.stage_enter_time)
    message.create_time.FromDatetime(opportunity.create_time)
    message.update_time.FromDatetime(opportunity.update_time)
    return message


def snapshot(opportunity: Opportunity, stage: Stage) -> events_pb2.OpportunitySnapshot:
    data = opportunity.data
    message = events_pb2.OpportunitySnapshot(
        id=opportunity.id,
        name=data.name,
        pipeline_id=data.pipeline_id,
        stage_id=stage.id,
        stage_name=stage.name,
        stage_category=stage.category.lower(),
        amount=money_to_proto(data.amount),
        close_date=date_to_proto(data.close_date),
        contact_id=data.contact_id,
        account_id=data.account_id,
        owner_id=data.owner_id,
    )
    message.update_time.FromDatetime(opportunity.update_time)
    return message


# --- products and quotes ---


def product_fields_from_proto(message: quotes_pb2.Product, *, creating: bool) -> ProductFields:
    check = Validator()
    price = (
        money.from_parts(
            check, "unitPrice", message.unit_price.currency_code, message.unit_price.units, message.unit_price.nanos
        )
        if message.HasField("unit_price")
        else None
    )
    check.raise_if_any()
    return ProductFields(
        sku=message.sku,
        name=message.name,
        description=message.description,
        unit_price=price,
        tax_rate_percent=message.tax_rate_percent,
        active=message.active or creating,
    )


def product_to_proto(product: Product) -> quotes_pb2.Product:
    data = product.data
    message = quotes_pb2.Product(
        id=product.id,
        sku=data.sku,
        name=data.name,
        description=data.description,
        unit_price=money_to_proto(data.unit_price),
        tax_rate_percent=data.tax_rate_percent,
        active=data.active,
        etag=product.etag,
    )
    message.create_time.FromDatetime(product.create_time)
    message.update_time.FromDatetime(product.update_time)
    return message


def lines_from_proto(lines: list[quotes_pb2.QuoteLine]) -> list[LineInput]:
    check = Validator()
    found = []
    for index, line in enumerate(lines):
        price = (
            money_from_proto(check, f"lines[{index}].unitPrice", line.unit_price)
            if line.HasField("unit_price")
            else None
        )
        found.append(
            LineInput(
                product_id=line.product_id,
                sku=line.sku,
                name=line.name,
                quantity=line.quantity,
                unit_price=price,
                discount_percent=line.discount_percent,
                tax_rate_percent=line.tax_rate_percent,
            )
        )
    check.raise_if_any()
    return found


def _line_to_proto(line: Line) -> quotes_pb2.QuoteLine:
    return quotes_pb2.QuoteLine(
        product_id=line.product_id,
        sku=line.sku,
        name=line.name,
        quantity=money.text_of(line.quantity),
        unit_price=money_to_proto(line.unit_price),
        discount_percent=money.text_of(line.discount_percent),
        tax_rate_percent=money.text_of(line.tax_rate_percent),
        net_amount=money_to_proto(line.net),
        tax_amount=money_to_proto(line.tax),
        total_amount=money_to_proto(line.total),
    )


def quote_to_proto(quote: Quote) -> quotes_pb2.Quote:
    message = quotes_pb2.Quote(
        id=quote.id,
        number=quote.number,
        opportunity_id=quote.opportunity_id,
        currency_code=quote.currency,
        lines=[_line_to_proto(line) for line in quote.lines],
        net_total=money_to_proto(quote.totals.net),
        tax_total=money_to_proto(quote.totals.tax),
        grand_total=money_to_proto(quote.totals.grand),
        status=QuoteStatus.Value(quote.status),
        contact_id=quote.contact_id,
        account_id=quote.account_id,
        owner_id=quote.owner_id,
        etag=quote.etag,
    )
    message.create_time.FromDatetime(quote.create_time)
    message.update_time.FromDatetime(quote.update_time)
    return message


def quote_accepted(quote: Quote) -> events_pb2.QuoteAccepted:
    message = events_pb2.QuoteAccepted(
        quote_id=quote.id,
        quote_number=quote.number,
        opportunity_id=quote.opportunity_id,
        contact_id=quote.contact_id,
        account_id=quote.account_id,
        lines=[
            events_pb2.QuoteLineSnapshot(
                product_id=line.product_id,
                sku=line.sku,
                name=line.name,
                quantity=money.text_of(line.quantity),
                unit_price=money_to_proto(line.unit_price),
                discount_percent=money.text_of(line.discount_percent),
                tax_rate_percent=money.text_of(line.tax_rate_percent),
                net_amount=money_to_proto(line.net),
                tax_amount=money_to_proto(line.tax),
                total_amount=money_to_proto(line.total),
            )
            for line in quote.lines
        ],
        net_total=money_to_proto(quote.totals.net),
        tax_total=money_to_proto(quote.totals.tax),
        grand_total=money_to_proto(quote.totals.grand),
    )
    message.accept_time.FromDatetime(quote.update_time)
    return message
