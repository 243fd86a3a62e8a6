"""Money as exact decimals: ISO 4217 codes and minor units from CLDR (Babel), never floats.

Amounts are stored as an integer count of the currency's minor unit (cents; yen for JPY, which
has none; fils for BHD, which has three), so sums in SQL are exact on every database (ADR 0045).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import get_currency_precision, is_currency

from crmkit.errors import Validator

NANOS = Decimal(1_000_000_000)
# ISO 4217 codes that are not money: "no currency" and the testing code.
NOT_MONEY = frozenset({"XXX", "XTS"})
# A trillion in any currency: beyond it is a typo, not a deal. It keeps every stored minor-unit
# amount, and amount x probability in the forecast, far inside 64-bit integers.
MAX_UNITS = 10**12
HALF_UP = ROUND_HALF_UP
HALF_EVEN = ROUND_HALF_EVEN


@dataclass(frozen=True)
class Money:
    currency: str
    amount: Decimal

    @property
    def minor(self) -> int:
        """The amount in minor units (exact: a Money is always on its currency's grid)."""
        return int(self.amount.scaleb(exponent(self.currency)))

    @classmethod
    def of_minor(cls, currency: str, minor: int) -> Money:
        return cls(currency, Decimal(minor).scaleb(-exponent(currency)))

    def to_units_nanos(self) -> tuple[int, int]:
        units = int(self.amount)  # truncates toward zero, as google.type.Money wants
        nanos = int((self.amount - units) * NANOS)
        return units, nanos


def is_iso_currency(code: str) -> bool:
    return len(code) == 3 and code.isalpha() and code.isupper() and code not in NOT_MONEY and is_currency(code)


def exponent(currency: str) -> int:
    """Decimal places of the currency's minor unit (USD 2, JPY 0, BHD 3)."""
    return int(get_currency_precision(currency))


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-exponent(currency))


def round_to_minor(value: Decimal, currency: str, rounding: str = HALF_UP) -> Decimal:
    return value.quantize(quantum(currency), rounding=rounding)


def from_parts(
    check: Validator, field: str, currency: str, units: int, nanos: int, *, exact: bool = True
) -> Money | None:
    """A google.type.Money's parts as Money, or None with violations naming `field.<part>`.

    `exact`: the amount must be on the currency's minor-unit grid (no fractions of a cent).
    """
    if not is_iso_currency(currency):
        check.add(f"{field}.currencyCode", f"{currency!r} is not an ISO 4217 currency code (e.g. EUR, USD, JPY)")
        return None
    if not -999_999_999 <= nanos <= 999_999_999 or (units > 0 and nanos < 0) or (units < 0 and nanos > 0):
        check.add(f"{field}.nanos", "must be within ±999,999,999 and have the sign of units")
        return None
    if abs(units) >= MAX_UNITS:
        check.add(f"{field}.units", f"must be below {MAX_UNITS}")
        return None
    amount = Decimal(units) + Decimal(nanos) / NANOS
    if exact and amount != round_to_minor(amount, currency):
        check.add(f"{field}.nanos", f"{currency} has {exponent(currency)} decimal places; this amount has more")
        return None
    return Money(currency, amount)


def decimal_text(
    check: Validator, field: str, text: str, *, default: str = "", low: Decimal, high: Decimal | None, low_open: bool
) -> Decimal:
    """A decimal string (quantities, percentages) within [low, high] (or (low, high])."""
    raw = text.strip() or default
    try:
        value = Decimal(raw)
    except InvalidOperation:
        check.add(field, f"{text!r} is not a decimal number")
        return Decimal(0)
    if not value.is_finite():
        check.add(field, "must be a finite number")
        return Decimal(0)
    if value.as_tuple().exponent < -6:  # type: ignore[operator]
        check.add(field, "at most 6 decimal places")
    too_low = value <= low if low_open else value < low
    if too_low or (high is not None and value > high):
        bound = f"greater than {low}" if low_open else f"at least {low}"
        check.add(field, f"must be {bound}" + (f" and at most {high}" if high is not None else ""))
    return value


def text_of(value: Decimal) -> str:
    """The canonical decimal string: no exponent, no trailing zeros ("1.50" -> "1.5")."""
    normal = value.normalize()
    return format(normal, "f") if normal != 0 else "0"
