"""Opportunity rules: fields, stage moves (required fields, close reasons) and etags."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from crmkit.errors import Aborted, Validator
from crmkit.etags import etag_of
from crmkit.updates import apply_mask
from services.sales.domain.money import Money
from services.sales.domain.pipelines import LOST, OPEN, WON, Pipeline, Stage

MAX_NAME = 200
MAX_REASON = 1000
SYSTEM_FIELDS = frozenset(
    {"id", "create_time", "update_time", "etag", "stage_name", "stage_category", "probability"}
    | {"forecast_category", "stage_enter_time"}
)
# API name of each field a stage can require -> the dataclass attribute.
ATTRIBUTE = {
    "amount": "amount",
    "closeDate": "close_date",
    "contactId": "contact_id",
    "accountId": "account_id",
    "ownerId": "owner_id",
}


@dataclass(frozen=True)
class OpportunityFields:
    """What a caller may write."""

    name: str = ""
    account_id: str = ""
    contact_id: str = ""
    pipeline_id: str = ""
    stage_id: str = ""
    amount: Money | None = None
    close_date: dt.date | None = None
    owner_id: str = ""
    close_reason: str = ""


@dataclass(frozen=True)
class Opportunity:
    id: str
    tenant_id: str
    data: OpportunityFields
    create_time: dt.datetime
    update_time: dt.datetime
    stage_enter_time: dt.datetime
    # When it last entered a WON or LOST stage (None while open).
    closed_time: dt.datetime | None
    etag: str


@dataclass(frozen=True)
class StageMove:
    """One stint in a stage: the history entry written when the opportunity enters it."""

    from_stage_id: str
    to_stage: Stage
    enter_time: dt.datetime
    actor: str
    reason: str


def normalise(data: OpportunityFields) -> OpportunityFields:
    check = Validator()
    name = check.text("name", data.name, MAX_NAME)
    if not name:
        check.add("name", "is required")
    values = {
        "name": name,
        "account_id": check.identifier("accountId", data.account_id),
        "contact_id": check.identifier("contactId", data.contact_id),
        "pipeline_id": check.identifier("pipelineId", data.pipeline_id),
        "stage_id": check.identifier("stageId", data.stage_id),
        "owner_id": check.identifier("ownerId", data.owner_id),
        "close_reason": check.text("closeReason", data.close_reason, MAX_REASON, multiline=True),
    }
    if not values["pipeline_id"]:
        check.add("pipelineId", "is required")
    if data.amount is not None and data.amount.amount < 0:
        check.add("amount.units", "must not be negative")
    check.raise_if_any()
    return replace(data, **values)  # type: ignore[arg-type]  # every value is a str field


def place(data: OpportunityFields, pipeline: Pipeline | None, before: OpportunityFields | None) -> Stage:
    """The stage the opportunity is in after a change, checking what entering it requires.

    Raises InvalidArgument naming `pipelineId`, `stageId`, a missing required field or
    `closeReason`; nothing is written when it does."""
    check = Validator()
    if pipeline is None:
        check.add("pipelineId", f"no pipeline {data.pipeline_id}")
        check.raise_if_any()
        raise AssertionError("unreachable")
    if not data.stage_id:
        stage = pipeline.first_open()
    else:
        found = pipeline.stage(data.stage_id)
        if found is None:
            check.add("stageId", f"no stage {data.stage_id} in pipeline {pipeline.id}")
            check.raise_if_any()
        stage = found  # type: ignore[assignment]
    entering = before is None or before.stage_id != stage.id
    for field in stage.required_fields:
        attribute = ATTRIBUTE[field]
        missing = getattr(data, attribute) in (None, "")
        cleared = before is not None and getattr(before, attribute) not in (None, "")
        if missing and (entering or cleared):
            check.add(field, f"stage {stage.name!r} requires {field}")
    if stage.category == LOST and entering and not data.close_reason:
        check.add("closeReason", f"say why the deal was lost to move it to {stage.name!r}")
    check.raise_if_any()
    return stage


def new_opportunity(
    opportunity_id: str, tenant_id: str, data: OpportunityFields, stage: Stage, now: dt.datetime
) -> Opportunity:
    data = replace(data, stage_id=stage.id)
    closed = now if stage.category in (WON, LOST) else None
    return Opportunity(opportunity_id, tenant_id, data, now, now, now, closed, compute_etag(opportunity_id, data, now))


def merged(current: Opportunity, patch: OpportunityFields, mask: Sequence[str]) -> tuple[OpportunityFields, list[str]]:
    """The fields after an AIP-134 update (not yet placed in a stage) and the names that changed."""
    return apply_mask(current.data, patch, mask, normalise, SYSTEM_FIELDS)


def changed_to(current: Opportunity, data: OpportunityFields, stage: Stage, now: dt.datetime) -> Opportunity:
    data = replace(data, stage_id=stage.id)
    moved = data.stage_id != current.data.stage_id
    closed = current.closed_time
    if moved:
        closed = now if stage.category in (WON, LOST) else None
    return replace(
        current,
        data=data,
        update_time=now,
        stage_enter_time=now if moved else current.stage_enter_time,
        closed_time=closed,
        etag=compute_etag(current.id, data, now),
    )


def check_etag(opportunity: Opportunity, expected: str) -> None:
    if expected and expected != opportunity.etag:
        raise Aborted(f"opportunity {opportunity.id} was changed since etag {expected}; read it again and retry")


def compute_etag(opportunity_id: str, data: OpportunityFields, update_time: dt.datetime) -> str:
    amount = None if data.amount is None else [data.amount.currency, str(data.amount.amount)]
    close_date = None if data.close_date is None else data.close_date.isoformat()
    return etag_of(opportunity_id, replace(data, amount=None, close_date=None), update_time, amount, close_date)


__all__ = ["LOST", "OPEN", "WON", "Opportunity", "OpportunityFields", "StageMove"]
