"""Forecast definitions (ADR 0045): one rule, applied in SQL and in Python alike."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.sales.domain.pipelines import LOST, OPEN, WON, Stage

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


@dataclass(frozen=True)
class PlacedStage:
    pipeline_id: str
    position: int
    stage: Stage


@dataclass(frozen=True)
class FlowTotal:
    """Stints moved from one stage to another ('' = created into it), summed in SQL."""

    from_stage_id: str
    to_stage_id: str
    count: int
    stay_seconds: int
    stays: int


@dataclass(frozen=True)
class Conversion:
    pipeline_id: str
    stage_id: str
    stage_name: str
    # Stints that entered the stage, and those that left it for a stage further on that is not LOST.
    entered: int
    advanced: int


def conversions(stages: Sequence[PlacedStage], flows: Sequence[FlowTotal]) -> list[Conversion]:
    """Per OPEN stage, in pipeline order: how many stints entered it and how many moved forward."""
    where = {p.stage.id: p for p in stages}
    entered: dict[str, int] = {}
    advanced: dict[str, int] = {}
    for flow in flows:
        entered[flow.to_stage_id] = entered.get(flow.to_stage_id, 0) + flow.count
        source, target = where.get(flow.from_stage_id), where.get(flow.to_stage_id)
        if source and target and target.stage.category != LOST and target.position > source.position:
            advanced[source.stage.id] = advanced.get(source.stage.id, 0) + flow.count
    return [
        Conversion(p.pipeline_id, p.stage.id, p.stage.name, entered[p.stage.id], advanced.get(p.stage.id, 0))
        for p in stages
        if p.stage.category == OPEN and entered.get(p.stage.id)
    ]


def typical_stays(flows: Sequence[FlowTotal]) -> dict[str, float]:
    """Each stage's average completed stay in seconds (stages nobody has left yet have none)."""
    seconds: dict[str, int] = {}
    stays: dict[str, int] = {}
    for flow in flows:
        seconds[flow.to_stage_id] = seconds.get(flow.to_stage_id, 0) + flow.stay_seconds
        stays[flow.to_stage_id] = stays.get(flow.to_stage_id, 0) + flow.stays
    return {stage_id: seconds[stage_id] / count for stage_id, count in stays.items() if count}
