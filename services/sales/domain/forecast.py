"""Forecast definitions (ADR 0045): one rule, applied in SQL and in Python alike."""

from __future__ import annotations

from services.sales.domain.pipelines import LOST, WON

PIPELINE, BEST_CASE, COMMIT, CLOSED, OMITTED = "PIPELINE", "BEST_CASE", "COMMIT", "CLOSED", "OMITTED"
# An open deal's category from its stage probability: at least COMMIT_FROM is commit, at least
# BEST_CASE_FROM is best case, below is pipeline.
COMMIT_FROM = 90
BEST_CASE_FROM = 60
MAX_STALE_DAYS = 3650
DEFAULT_STALE_DAYS = 30
AT_RISK_LIMIT = 200


def forecast_category(stage_category: str, probability: int) -> str:
    if stage_category == WON:
        return CLOSED
    if stage_category == LOST:
        return OMITTED
    if probability >= COMMIT_FROM:
        return COMMIT
    if probability >= BEST_CASE_FROM:
        return BEST_CASE
    return PIPELINE


def period_label(year: int, month: int, quarterly: bool) -> str:
    return f"{year:04d}-Q{(month + 2) // 3}" if quarterly else f"{year:04d}-{month:02d}"
