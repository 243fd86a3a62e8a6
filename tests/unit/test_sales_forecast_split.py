"""How a close-date range splits into whole months (the running totals) and cut months (a scan)."""

from __future__ import annotations

import datetime as dt

import pytest

from services.sales.deal_store import close_date_split

D = dt.date


@pytest.mark.parametrize(
    ("close_from", "close_to", "months", "scans"),
    [
        (None, None, (None, None), []),
        (D(2027, 1, 1), None, (202701, None), []),
        (None, D(2027, 2, 28), (None, 202702), []),
        (D(2027, 1, 1), D(2027, 1, 31), (202701, 202701), []),
        (
            D(2027, 1, 15),
            D(2027, 3, 10),
            (202702, 202702),
            [(D(2027, 1, 15), D(2027, 1, 31)), (D(2027, 3, 1), D(2027, 3, 10))],
        ),
        (D(2027, 1, 15), D(2027, 1, 20), None, [(D(2027, 1, 15), D(2027, 1, 20))]),
        (D(2027, 1, 15), D(2027, 1, 31), None, [(D(2027, 1, 15), D(2027, 1, 31))]),
        (D(2027, 1, 31), D(2027, 2, 1), None, [(D(2027, 1, 31), D(2027, 1, 31)), (D(2027, 2, 1), D(2027, 2, 1))]),
        (D(2027, 1, 15), None, (202702, None), [(D(2027, 1, 15), D(2027, 1, 31))]),
        (None, D(2028, 2, 28), (None, 202801), [(D(2028, 2, 1), D(2028, 2, 28))]),  # 2028 is a leap year
        (D(2027, 12, 2), D(2028, 1, 31), (202801, 202801), [(D(2027, 12, 2), D(2027, 12, 31))]),
    ],
)
def test_whole_months_come_from_the_totals_and_cut_ones_from_a_scan(close_from, close_to, months, scans):
    assert close_date_split(close_from, close_to) == (months, scans)
