"""Sales forecast and pipeline analytics (ADR 0045): SQL aggregates, turned into Money here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import grpc
from crm.sales.v1 import opportunities_pb2, opportunities_pb2_grpc

from crmkit.db import Database, utcnow
from crmkit.errors import Validator
from crmkit.tokens import Principal, current_principal
from services.sales import deal_store as store
from services.sales.deal_messages import money_to_proto
from services.sales.domain import forecast as rules
from services.sales.domain.money import HALF_EVEN, Money, round_to_minor

Request = opportunities_pb2.GetSalesForecastRequest


@dataclass(frozen=True)
class Forecast:
    rows: list[store.ForecastTotals]
    conversions: list[rules.Conversion]
    at_risk: list[tuple[store.RiskRow, list[str]]]


class SalesAnalytics:
    def __init__(self, database: Database, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.database = database
        self.clock = clock

    def forecast(self, principal: Principal, spec: store.ForecastQuery, stale_days: int) -> Forecast:
        check = Validator()
        if not 0 <= stale_days <= rules.MAX_STALE_DAYS:
            check.add("staleDays", f"must be between 1 and {rules.MAX_STALE_DAYS} (0: {rules.DEFAULT_STALE_DAYS})")
        if spec.close_from and spec.close_to and spec.close_from > spec.close_to:
            check.add("closeDateTo", "must not be before closeDateFrom")
        check.raise_if_any()
        if principal.own_records_only:  # a sales rep forecasts its own deals (ADR 0013)
            spec = store.ForecastQuery(**{**spec.__dict__, "owner_id": principal.subject})
        now = self.clock()
        with self.database.transaction() as session:
            rows = store.forecast_rows(session, spec)
            flows = store.stage_flows(session, spec)
            stages = store.tenant_stages(session, spec.tenant_id)
            typical = rules.typical_stays(flows)
            days = stale_days or rules.DEFAULT_STALE_DAYS
            risky = store.at_risk(session, spec, now, days, typical, rules.AT_RISK_LIMIT)
        conversions = rules.conversions(stages, flows)
        return Forecast(rows, conversions, [(r, risk_reasons(r, now, days, typical.get(r.stage_id))) for r in risky])


def _iso_date(check: Validator, field: str, text: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        check.add(field, "must be a date as YYYY-MM-DD")
        return None


def risk_reasons(row: store.RiskRow, now: dt.datetime, stale_days: int, typical: float | None) -> list[str]:
    reasons = []
    if row.update_time < now - dt.timedelta(days=stale_days):
        reasons.append("STALE")
    if row.close_date is not None and row.close_date < now.date():
        reasons.append("OVERDUE")
    if typical is not None and row.stage_enter_epoch < store.epoch(now) - int(typical):
        reasons.append("STUCK")
    return reasons


def _money(currency: str, minor: int | Decimal) -> Money | None:
    if not currency:
        return None
    return Money.of_minor(currency, 0) if minor == 0 else Money(currency, _scaled(currency, Decimal(minor)))


def _scaled(currency: str, minor: Decimal) -> Decimal:
    value = Money.of_minor(currency, 1).amount * minor
    return round_to_minor(value, currency, HALF_EVEN)


def row_to_proto(row: store.ForecastTotals) -> opportunities_pb2.ForecastRow:
    currency = row.currency
    closed = row.won_count + row.lost_count
    average = Decimal(row.closed_minor) / row.won_count if row.won_count else Decimal(0)
    return opportunities_pb2.ForecastRow(
        period=row.period,
        owner_id=row.owner_id,
        pipeline_id=row.pipeline_id,
        currency_code=currency,
        open_count=row.open_count,
        open_amount=money_to_proto(_money(currency, row.open_minor)),
        weighted_amount=money_to_proto(_money(currency, Decimal(row.weighted_minor_x100) / 100)),
        pipeline_amount=money_to_proto(_money(currency, row.pipeline_minor)),
        best_case_amount=money_to_proto(_money(currency, row.best_case_minor)),
        commit_amount=money_to_proto(_money(currency, row.commit_minor)),
        closed_amount=money_to_proto(_money(currency, row.closed_minor)),
        won_count=row.won_count,
        lost_count=row.lost_count,
        win_rate=row.won_count / closed if closed else 0.0,
        average_deal_size=money_to_proto(_money(currency, average)),
        average_sales_cycle_days=row.cycle_seconds / row.won_count / 86400 if row.won_count else 0.0,
    )


class SalesAnalyticsServicer(opportunities_pb2_grpc.SalesAnalyticsServiceServicer):
    def __init__(self, analytics: SalesAnalytics) -> None:
        self.analytics = analytics

    def GetSalesForecast(self, request: Request, context: grpc.ServicerContext) -> opportunities_pb2.SalesForecast:
        principal = current_principal()
        check = Validator()
        close_from = _iso_date(check, "closeDateFrom", request.close_date_from)
        close_to = _iso_date(check, "closeDateTo", request.close_date_to)
        check.raise_if_any()
        spec = store.ForecastQuery(
            tenant_id=principal.tenant_id,
            quarterly=request.period == Request.QUARTER,
            pipeline_id=request.pipeline_id,
            owner_id=request.owner_id,
            close_from=close_from,
            close_to=close_to,
        )
        found = self.analytics.forecast(principal, spec, request.stale_days)
        return opportunities_pb2.SalesForecast(
            rows=[row_to_proto(r) for r in found.rows],
            stage_conversions=[
                opportunities_pb2.StageConversion(
                    pipeline_id=c.pipeline_id,
                    stage_id=c.stage_id,
                    stage_name=c.stage_name,
                    entered=c.entered,
                    advanced=c.advanced,
                    conversion_rate=c.advanced / c.entered if c.entered else 0.0,
                )
                for c in found.conversions
            ],
            at_risk=[
                opportunities_pb2.AtRiskDeal(opportunity_id=r.id, name=r.name, owner_id=r.owner_id, reasons=reasons)
                for r, reasons in found.at_risk
            ],
        )
