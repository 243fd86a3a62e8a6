"""Invoices from sales events, exact money and webhook signatures (services/integrations/accounting/domain.py)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from decimal import Decimal

from services.integrations.accounting import domain
from services.integrations.accounting.domain import QuoteLine

WHEN = dt.datetime(2026, 11, 23, 23, 30, tzinfo=dt.UTC)


def test_a_won_deal_is_one_line_of_its_amount_due_in_thirty_days():
    draft = domain.draft_for_won_deal("OPP1", "Big deal", "C1", "A1", "EUR", Decimal("1200.5"), WHEN)
    assert draft is not None
    assert draft.source_key == "opportunity:OPP1"
    assert [(ln.description, ln.quantity, ln.net) for ln in draft.lines] == [("Big deal", 1, Decimal("1200.50"))]
    assert draft.total == Decimal("1200.50")
    assert (draft.issue_date, draft.due_date) == (dt.date(2026, 11, 23), dt.date(2026, 12, 23))


def test_a_won_deal_without_amount_or_customer_invoices_nothing():
    assert domain.draft_for_won_deal("O", "n", "C", "", "EUR", Decimal(0), WHEN) is None
    assert domain.draft_for_won_deal("O", "n", "", "", "EUR", Decimal(10), WHEN) is None
    assert domain.draft_for_won_deal("O", "n", "C", "", "", Decimal(10), WHEN) is None


def test_an_accepted_quote_keeps_its_lines_discounts_and_tax_and_shares_the_deals_key():
    lines = [
        QuoteLine("Widget", "W-1", "3", "10", Decimal("27.00"), Decimal("5.13")),
        QuoteLine("Setup", "", "1", "0", Decimal("100"), Decimal("0")),
    ]
    draft = domain.draft_for_accepted_quote("Q1", "Q-0001", "OPP1", "C1", "", "USD", lines, WHEN)
    assert draft is not None
    assert draft.source_key == "opportunity:OPP1"  # the won deal of the same opportunity adds nothing
    assert [ln.description for ln in draft.lines] == ["Widget (W-1)", "Setup"]
    assert draft.lines[0].unit_price == Decimal("9.0000") and draft.lines[0].quantity == 3
    assert (draft.net_total, draft.tax_total, draft.total) == (Decimal("127.00"), Decimal("5.13"), Decimal("132.13"))
    alone = domain.draft_for_accepted_quote("Q2", "Q-0002", "", "C1", "", "USD", lines, WHEN)
    assert alone is not None and alone.source_key == "quote:Q2"


def test_money_parts_round_trip_and_vendor_numbers_are_read_exactly():
    assert domain.money_decimal(12, 500_000_000) == Decimal("12.5")
    assert domain.units_nanos(Decimal("-3.25")) == (-3, -250_000_000)
    assert domain.decimal_of(0.1) == Decimal("0.1")
    assert domain.decimal_of(None) == 0
    assert domain.on_grid(Decimal("1.005"), "USD") == Decimal("1.01")
    assert domain.on_grid(Decimal("1.5"), "JPY") == Decimal("2")


def test_a_signature_is_base64_hmac_sha256_of_the_exact_body():
    body = b'{"events":[],"firstEventSequence":0}'
    expected = base64.b64encode(hmac.new(b"key", body, hashlib.sha256).digest()).decode()
    assert domain.signature_of("key", body) == expected
    assert domain.signature_matches("key", body, expected)
    assert not domain.signature_matches("key", body + b" ", expected)
    assert not domain.signature_matches("other", body, expected)
    assert not domain.signature_matches("key", body, None)
    assert not domain.signature_matches("", body, domain.signature_of("", body))
