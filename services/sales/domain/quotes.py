"""Price book and quotes: exact line totals (Decimal, half-up per line to the minor unit) and the
draft -> sent -> accepted | rejected life cycle (ADR 0045)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from crmkit.errors import Aborted, FailedPrecondition, Validator
from crmkit.etags import etag_of
from crmkit.updates import apply_mask
from services.sales.domain.money import (
    HALF_UP,
    MAX_UNITS,
    Money,
    decimal_text,
    is_iso_currency,
    round_to_minor,
    text_of,
)

DRAFT, SENT, ACCEPTED, REJECTED = "DRAFT", "SENT", "ACCEPTED", "REJECTED"
TRANSITIONS = {"send": (DRAFT, SENT), "accept": (SENT, ACCEPTED), "reject": (SENT, REJECTED)}
HUNDRED = Decimal(100)
MAX_LINES = 200
MAX_QUANTITY = Decimal(10**9)
MAX_TEXT = 200
PRODUCT_SYSTEM_FIELDS = frozenset({"id", "create_time", "update_time", "etag"})


@dataclass(frozen=True)
class ProductFields:
    sku: str = ""
    name: str = ""
    description: str = ""
    unit_price: Money | None = None
    tax_rate_percent: str = ""
    active: bool = True


@dataclass(frozen=True)
class Product:
    id: str
    tenant_id: str
    data: ProductFields
    create_time: dt.datetime
    update_time: dt.datetime
    etag: str


def normalise_product(data: ProductFields) -> ProductFields:
    check = Validator()
    sku = check.text("sku", data.sku, 64)
    name = check.text("name", data.name, MAX_TEXT)
    description = check.text("description", data.description, 4000, multiline=True)
    if not sku:
        check.add("sku", "is required")
    if not name:
        check.add("name", "is required")
    if data.unit_price is None:
        check.add("unitPrice", "is required")
    elif data.unit_price.amount < 0:
        check.add("unitPrice.units", "must not be negative")
    tax = decimal_text(
        check, "taxRatePercent", data.tax_rate_percent, default="0", low=Decimal(0), high=HUNDRED, low_open=False
    )
    check.raise_if_any()
    return replace(data, sku=sku, name=name, description=description, tax_rate_percent=text_of(tax))


def new_product(product_id: str, tenant_id: str, data: ProductFields, now: dt.datetime) -> Product:
    data = normalise_product(data)
    return Product(product_id, tenant_id, data, now, now, _product_etag(product_id, data, now))


def update_product(
    current: Product, patch: ProductFields, mask: Sequence[str], now: dt.datetime
) -> tuple[Product, list[str]]:
    merged, changed = apply_mask(current.data, patch, mask, normalise_product, PRODUCT_SYSTEM_FIELDS)
    if not changed:
        return current, []
    return replace(current, data=merged, update_time=now, etag=_product_etag(current.id, merged, now)), changed


def _product_etag(product_id: str, data: ProductFields, now: dt.datetime) -> str:
    price = None if data.unit_price is None else [data.unit_price.currency, str(data.unit_price.amount)]
    return etag_of(product_id, replace(data, unit_price=None), now, price)


@dataclass(frozen=True)
class LineInput:
    """A line as the caller sent it (unit_price None: the product's)."""

    product_id: str = ""
    sku: str = ""
    name: str = ""
    quantity: str = ""
    unit_price: Money | None = None
    discount_percent: str = ""
    tax_rate_percent: str = ""


@dataclass(frozen=True)
class Line:
    product_id: str
    sku: str
    name: str
    quantity: Decimal
    unit_price: Money
    discount_percent: Decimal
    tax_rate_percent: Decimal
    net: Money
    tax: Money
    total: Money


@dataclass(frozen=True)
class Totals:
    net: Money
    tax: Money
    grand: Money


@dataclass(frozen=True)
class Quote:
    id: str
    tenant_id: str
    number: str
    opportunity_id: str
    currency: str
    lines: tuple[Line, ...]
    totals: Totals
    status: str
    contact_id: str
    account_id: str
    owner_id: str
    create_time: dt.datetime
    update_time: dt.datetime
    etag: str


def price_line(
    quantity: Decimal, unit_price: Money, discount_percent: Decimal, tax_rate_percent: Decimal
) -> tuple[Money, Money, Money]:
    """Net, tax and total of one line: net = quantity x unit price x (1 - discount), tax = net x
    rate, each rounded half-up to the currency's minor unit; total = net + tax (exact)."""
    currency = unit_price.currency
    gross = quantity * unit_price.amount
    net = round_to_minor(gross * (HUNDRED - discount_percent) / HUNDRED, currency, HALF_UP)
    tax = round_to_minor(net * tax_rate_percent / HUNDRED, currency, HALF_UP)
    return Money(currency, net), Money(currency, tax), Money(currency, net + tax)


def totals_of(currency: str, lines: Sequence[Line]) -> Totals:
    zero = Decimal(0)
    net = sum((line.net.amount for line in lines), zero)
    tax = sum((line.tax.amount for line in lines), zero)
    return Totals(Money(currency, net), Money(currency, tax), Money(currency, net + tax))


def build_lines(currency: str, given: Sequence[LineInput], products: Mapping[str, Product]) -> tuple[Line, ...]:
    """Validated, priced lines; every violation names its line, e.g. lines[2].unitPrice.currencyCode."""
    check = Validator()
    if not is_iso_currency(currency):
        check.add("currencyCode", f"{currency!r} is not an ISO 4217 currency code")
        check.raise_if_any()
    if len(given) > MAX_LINES:
        check.add("lines", f"at most {MAX_LINES} lines")
    lines = []
    for index, line in enumerate(given):
        where = f"lines[{index}]"
        product = products.get(line.product_id) if line.product_id else None
        if line.product_id and (product is None or not product.data.active):
            check.add(f"{where}.productId", f"no active product {line.product_id}")
        sku = check.text(f"{where}.sku", line.sku or (product.data.sku if product else ""), 64)
        name = check.text(f"{where}.name", line.name or (product.data.name if product else ""), MAX_TEXT)
        if not name:
            check.add(f"{where}.name", "a free line needs a name")
        quantity = decimal_text(
            check, f"{where}.quantity", line.quantity, low=Decimal(0), high=MAX_QUANTITY, low_open=True
        )
        discount = decimal_text(
            check,
            f"{where}.discountPercent",
            line.discount_percent,
            default="0",
            low=Decimal(0),
            high=HUNDRED,
            low_open=False,
        )
        default_tax = product.data.tax_rate_percent if product else "0"
        tax_rate = decimal_text(
            check,
            f"{where}.taxRatePercent",
            line.tax_rate_percent,
            default=default_tax,
            low=Decimal(0),
            high=HUNDRED,
            low_open=False,
        )
        price = line.unit_price if line.unit_price is not None else (product.data.unit_price if product else None)
        if price is None:
            check.add(f"{where}.unitPrice", "a free line needs a unit price")
            continue
        if price.currency != currency:
            source = "" if line.unit_price is not None else f" (the price of product {line.product_id})"
            check.add(f"{where}.unitPrice.currencyCode", f"is {price.currency}{source}; the quote is in {currency}")
            continue
        if price.amount < 0:
            check.add(f"{where}.unitPrice.units", "must not be negative")
            continue
        if check.violations:
            continue
        net, tax, total = price_line(quantity, price, discount, tax_rate)
        if abs(total.amount) >= MAX_UNITS:
            check.add(f"{where}.quantity", f"the line total must stay below {MAX_UNITS} {currency}")
            continue
        lines.append(Line(line.product_id, sku, name, quantity, price, discount, tax_rate, net, tax, total))
    if sum((line.total.amount for line in lines), Decimal(0)) >= MAX_UNITS:
        check.add("lines", f"the quote total must stay below {MAX_UNITS} {currency}")
    check.raise_if_any()
    return tuple(lines)


def transition(quote: Quote, action: str, now: dt.datetime) -> Quote:
    source, target = TRANSITIONS[action]
    if quote.status != source:
        raise FailedPrecondition(f"quote {quote.number} is {quote.status}; only a {source} quote can be {target}")
    return replace(
        quote, status=target, update_time=now, etag=quote_etag(quote.id, quote.lines, target, now, quote.currency)
    )


def check_editable(quote: Quote) -> None:
    if quote.status != DRAFT:
        raise FailedPrecondition(f"quote {quote.number} is {quote.status}; only drafts can be changed")


def check_etag(resource: Quote | Product, expected: str) -> None:
    if expected and expected != resource.etag:
        kind = "quote" if isinstance(resource, Quote) else "product"
        raise Aborted(f"{kind} {resource.id} was changed since etag {expected}; read it again and retry")


@dataclass(frozen=True)
class _EtagState:
    currency: str
    lines: tuple[str, ...]


def quote_etag(quote_id: str, lines: Sequence[Line], status: str, now: dt.datetime, currency: str) -> str:
    return etag_of(quote_id, _EtagState(currency, tuple(repr(line) for line in lines)), now, status)


def quote_number(sequence: int) -> str:
    return f"Q-{sequence:06d}"
