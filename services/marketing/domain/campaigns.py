"""Campaign rules: fields and their validation, the status machine, the send budget, and how a won
deal's revenue is attributed. Pure Python, no I/O (docs/adr/0052, 0054)."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from crmkit.errors import Aborted, FailedPrecondition, InvalidArgument, Validator
from crmkit.etags import etag_of
from services.marketing.domain import templating

DRAFT, SCHEDULED, SENDING, SENT, CANCELLED = "DRAFT", "SCHEDULED", "SENDING", "SENT", "CANCELLED"
STATUSES = (DRAFT, SCHEDULED, SENDING, SENT, CANCELLED)
DEFAULT_RATE, MAX_RATE = 600, 6000
NANOS = 1_000_000_000
CURRENCY = re.compile(r"^[A-Z]{3}$")
# Engagement (an open or a click) this long before a deal is won credits the campaign (ADR 0054).
ATTRIBUTION_WINDOW = dt.timedelta(days=30)


@dataclass(frozen=True)
class Cost:
    currency: str
    # Billionths of the currency unit: google.type.Money's units * 10^9 + nanos, exact.
    nanos: int


@dataclass(frozen=True)
class CampaignFields:
    """What a caller writes; everything else (status, times) the service keeps."""

    name: str = ""
    segment_id: str = ""
    template_id: str = ""
    from_address: str = ""
    subject: str = ""
    connection_id: str = ""
    send_rate_per_minute: int = 0
    cost: Cost | None = None


def money_nanos(field: str, currency: str, units: int, nanos: int, check: Validator) -> Cost | None:
    """A google.type.Money as a Cost; a cost is never negative."""
    if not CURRENCY.match(currency):
        check.add(f"{field}.currencyCode", "an ISO 4217 code such as EUR")
    if not -NANOS < nanos < NANOS or (units > 0 and nanos < 0) or (units < 0 and nanos > 0):
        check.add(f"{field}.nanos", "must be within (-10^9, 10^9) with the sign of units")
    total = units * NANOS + nanos
    if total < 0:
        check.add(field, "must not be negative")
    return Cost(currency, total)


def normalise(fields: CampaignFields) -> CampaignFields:
    check = Validator()
    name = check.text("name", fields.name, 200)
    if not name:
        check.add("name", "is required")
    segment_id = check.identifier("segmentId", fields.segment_id, 26)
    if not segment_id:
        check.add("segmentId", "is required")
    template_id = check.identifier("templateId", fields.template_id, 26)
    if not template_id:
        check.add("templateId", "is required")
    from_address = check.email("fromAddress", fields.from_address)
    connection_id = check.identifier("connectionId", fields.connection_id, 64)
    subject = check.text("subject", fields.subject, 998)
    if subject:
        try:
            templating.validate(templating.TemplateParts(subject, "", "-"))
        except InvalidArgument as exc:
            check.violations.extend(v for v in exc.violations if v.field == "subject")
    rate = fields.send_rate_per_minute or DEFAULT_RATE
    if not 1 <= rate <= MAX_RATE:
        check.add("sendRatePerMinute", f"must be between 1 and {MAX_RATE}")
    check.raise_if_any()
    return CampaignFields(name, segment_id, template_id, from_address, subject, connection_id, rate, fields.cost)


def campaign_etag(campaign_id: str, fields: CampaignFields, status: str, update_time: dt.datetime) -> str:
    cost = [fields.cost.currency, fields.cost.nanos] if fields.cost else None
    plain = CampaignFields(
        fields.name,
        fields.segment_id,
        fields.template_id,
        fields.from_address,
        fields.subject,
        fields.connection_id,
        fields.send_rate_per_minute,
    )
    return etag_of(campaign_id, plain, update_time, status, cost)


def check_etag(campaign_id: str, current: str, expected: str) -> None:
    if expected and expected != current:
        raise Aborted(f"campaign {campaign_id} was changed since etag {expected}; read it again and retry")


def require_status(campaign_id: str, status: str, allowed: Sequence[str], action: str) -> None:
    if status not in allowed:
        raise FailedPrecondition(f"campaign {campaign_id} is {status}; only a {' or '.join(allowed)} one can {action}")


def send_budget(rate_per_minute: int, started: dt.datetime, now: dt.datetime, processed: int) -> int:
    """How many more recipients may be handed over now: `rate` per minute since the start (the
    first one at once). Derived from stored facts only, so a restart neither bursts nor stalls."""
    elapsed = max(0.0, (now - started).total_seconds())
    allowed = math.floor(rate_per_minute * elapsed / 60.0) + 1
    return max(0, allowed - processed)


def split_revenue(total_nanos: int, campaign_ids: Sequence[str]) -> dict[str, int]:
    """Equal shares of a won deal's amount for each engaged campaign (linear attribution), exact:
    the remainder of the division goes to the first campaign in id order, so shares sum to the total."""
    ordered = sorted(set(campaign_ids))
    if not ordered:
        return {}
    share, remainder = divmod(total_nanos, len(ordered))
    return {c: share + (remainder if i == 0 else 0) for i, c in enumerate(ordered)}


def roi(revenue_nanos: int, cost: Cost | None) -> float | None:
    """(revenue - cost) / cost in the cost's currency; None without a (non-zero) cost."""
    if cost is None or cost.nanos == 0:
        return None
    return (revenue_nanos - cost.nanos) / cost.nanos


def click_through(unique_clicks: int, delivered: int) -> float:
    return unique_clicks / delivered if delivered else 0.0
