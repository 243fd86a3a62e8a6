"""Pipeline rules: ordered stages with a probability, a category and the fields they require."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import astuple, dataclass, replace

from crmkit.errors import Aborted, FieldViolation, InvalidArgument, Validator
from crmkit.etags import etag_of

OPEN, WON, LOST = "OPEN", "WON", "LOST"
CATEGORIES = (OPEN, WON, LOST)
# Opportunity fields a stage may require (API names; the opportunity's writable fields).
REQUIRABLE = ("amount", "closeDate", "contactId", "accountId", "ownerId")
MAX_NAME = 100
MAX_STAGES = 50


@dataclass(frozen=True)
class Stage:
    id: str
    name: str
    probability: int
    category: str
    required_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class PipelineFields:
    name: str = ""
    stages: tuple[Stage, ...] = ()


@dataclass(frozen=True)
class Pipeline:
    id: str
    tenant_id: str
    data: PipelineFields
    create_time: dt.datetime
    update_time: dt.datetime
    etag: str

    def stage(self, stage_id: str) -> Stage | None:
        return next((s for s in self.data.stages if s.id == stage_id), None)

    def first_open(self) -> Stage:
        return next(s for s in self.data.stages if s.category == OPEN)

    def position(self, stage_id: str) -> int:
        return next(i for i, s in enumerate(self.data.stages) if s.id == stage_id)


def normalise(data: PipelineFields, new_id: Callable[[], str] | None = None) -> PipelineFields:
    """Validate the whole pipeline at once; stages without an id get one from `new_id`."""
    check = Validator()
    name = check.text("name", data.name, MAX_NAME)
    if not name:
        check.add("name", "is required")
    stages = []
    seen_names: dict[str, int] = {}
    seen_ids: set[str] = set()
    if len(data.stages) > MAX_STAGES:
        check.add("stages", f"at most {MAX_STAGES} stages")
    for index, stage in enumerate(data.stages):
        where = f"stages[{index}]"
        stage_name = check.text(f"{where}.name", stage.name, MAX_NAME)
        if not stage_name:
            check.add(f"{where}.name", "is required")
        elif stage_name.lower() in seen_names:
            check.add(
                f"{where}.name", f"{stage_name!r} is already the name of stages[{seen_names[stage_name.lower()]}]"
            )
        seen_names.setdefault(stage_name.lower(), index)
        category = stage.category or OPEN
        if category not in CATEGORIES:
            check.add(f"{where}.category", "must be OPEN, WON or LOST")
        probability = stage.probability
        if not 0 <= probability <= 100:
            check.add(f"{where}.probability", "must be between 0 and 100")
        if category == WON:
            probability = 100
        elif category == LOST:
            probability = 0
        for field in stage.required_fields:
            if field not in REQUIRABLE:
                check.add(f"{where}.requiredFields", f"{field!r} is not one of {', '.join(REQUIRABLE)}")
        stage_id = check.identifier(f"{where}.id", stage.id)
        if stage_id and stage_id in seen_ids:
            check.add(f"{where}.id", "appears twice")
        seen_ids.add(stage_id)
        if not stage_id and new_id is not None:
            stage_id = new_id()
        stages.append(Stage(stage_id, stage_name, probability, category, tuple(dict.fromkeys(stage.required_fields))))
    categories = {s.category for s in stages}
    for needed in CATEGORIES:
        if needed not in categories:
            check.add("stages", f"a pipeline needs at least one {needed} stage")
    check.raise_if_any()
    return PipelineFields(name, tuple(stages))


def new_pipeline(
    pipeline_id: str, tenant_id: str, data: PipelineFields, now: dt.datetime, new_id: Callable[[], str]
) -> Pipeline:
    if any(s.id for s in data.stages):
        raise InvalidArgument.of([FieldViolation("stages", "new pipelines' stages get their ids; leave id empty")])
    data = normalise(data, new_id)
    return Pipeline(pipeline_id, tenant_id, data, now, now, pipeline_etag(pipeline_id, data, now))


def updated(
    current: Pipeline,
    patch: PipelineFields,
    mask: Sequence[str],
    now: dt.datetime,
    new_id: Callable[[], str],
) -> tuple[Pipeline, list[str]]:
    """The pipeline with the masked fields replaced; stage ids sent must be the pipeline's own."""
    paths = [p for p in (mask or [n for n in ("name", "stages") if getattr(patch, n)]) if p not in SYSTEM_FIELDS]
    check = Validator()
    for path in paths:
        if path not in ("name", "stages"):
            check.add("update_mask", f"unknown or read-only field {path!r}")
    known = {s.id for s in current.data.stages}
    if "stages" in paths:
        for index, stage in enumerate(patch.stages):
            if stage.id and stage.id not in known:
                check.add(f"stages[{index}].id", f"no stage {stage.id} in this pipeline; leave id empty for a new one")
    check.raise_if_any()
    merged = PipelineFields(
        name=patch.name if "name" in paths else current.data.name,
        stages=patch.stages if "stages" in paths else current.data.stages,
    )
    merged = normalise(merged, new_id)
    changed = [p for p in ("name", "stages") if getattr(merged, p) != getattr(current.data, p)]
    if not changed:
        return current, []
    return replace(current, data=merged, update_time=now, etag=pipeline_etag(current.id, merged, now)), changed


def reordered(current: Pipeline, stage_ids: Sequence[str], now: dt.datetime) -> Pipeline:
    by_id = {s.id: s for s in current.data.stages}
    if sorted(stage_ids) != sorted(by_id):
        raise InvalidArgument.of([FieldViolation("stageIds", "must name every stage of the pipeline exactly once")])
    data = replace(current.data, stages=tuple(by_id[i] for i in stage_ids))
    return replace(current, data=data, update_time=now, etag=pipeline_etag(current.id, data, now))


def removed_stages(before: Pipeline, after: Pipeline) -> list[str]:
    kept = {s.id for s in after.data.stages}
    return [s.id for s in before.data.stages if s.id not in kept]


def check_etag(pipeline: Pipeline, expected: str) -> None:
    if expected and expected != pipeline.etag:
        raise Aborted(f"pipeline {pipeline.id} was changed since etag {expected}; read it again and retry")


SYSTEM_FIELDS = frozenset({"id", "create_time", "update_time", "etag"})


def pipeline_etag(pipeline_id: str, data: PipelineFields, now: dt.datetime) -> str:
    return etag_of(pipeline_id, replace(data, stages=()), now, [astuple(s) for s in data.stages])
