"""Lead protobuf <-> domain, shared by the lead servicers and the events they publish."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from crm.sales.v1 import events_pb2, leads_pb2
from google.protobuf import json_format, struct_pb2, timestamp_pb2

from services.sales.domain.assignment import AssignmentRule, Condition
from services.sales.domain.leads import HistoryEntry, Lead, LeadFields
from services.sales.domain.scoring import ScoringRule, ScoringSettings


def timestamp(value: dt.datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def lead_fields_from_proto(message: leads_pb2.Lead) -> LeadFields:
    return LeadFields(
        given_name=message.given_name,
        family_name=message.family_name,
        email=message.email,
        phone=message.phone,
        company=message.company,
        title=message.title,
        source=message.source,
        country=message.country,
        industry=message.industry,
        company_size=message.company_size,
        custom_attributes=json_format.MessageToDict(message.custom_attributes),
        status=message.status,
        owner_id=message.owner_id,
    )


def lead_to_proto(lead: Lead, score: int, history: Sequence[HistoryEntry] = ()) -> leads_pb2.Lead:
    data = lead.data
    message = leads_pb2.Lead(
        id=lead.id,
        given_name=data.given_name,
        family_name=data.family_name,
        email=data.email,
        phone=data.phone,
        company=data.company,
        title=data.title,
        source=data.source,
        country=data.country,
        industry=data.industry,
        company_size=data.company_size,
        status=data.status,
        score=score,
        owner_id=data.owner_id,
        contact_id=lead.converted.contact_id,
        account_id=lead.converted.account_id,
        opportunity_id=lead.converted.opportunity_id,
        create_time=timestamp(lead.create_time),
        update_time=timestamp(lead.update_time),
        etag=lead.etag,
        history=[
            leads_pb2.LeadHistoryEntry(
                time=timestamp(h.time),
                kind=h.kind,
                message=h.message,
                actor=h.actor,
                score_delta=h.score_delta,
                score=h.score,
            )
            for h in history
        ],
    )
    attributes = struct_pb2.Struct()
    attributes.update(dict(data.custom_attributes))
    message.custom_attributes.CopyFrom(attributes)
    return message


def lead_snapshot(lead: Lead, score: int) -> events_pb2.LeadSnapshot:
    data = lead.data
    return events_pb2.LeadSnapshot(
        id=lead.id,
        given_name=data.given_name,
        family_name=data.family_name,
        email=data.email,
        company=data.company,
        status=data.status,
        score=score,
        owner_id=data.owner_id,
    )


def rule_from_proto(
    message: leads_pb2.AssignmentRule, tenant_id: str, rule_id: str, now: dt.datetime
) -> AssignmentRule:
    return AssignmentRule(
        id=rule_id,
        tenant_id=tenant_id,
        name=message.name,
        position=message.position,
        conditions=tuple(Condition(c.attribute, tuple(c.values)) for c in message.conditions),
        territory=message.territory,
        owner_ids=tuple(message.owner_ids),
        capacity_per_owner=message.capacity_per_owner,
        create_time=now,
    )


def rule_to_proto(rule: AssignmentRule) -> leads_pb2.AssignmentRule:
    return leads_pb2.AssignmentRule(
        id=rule.id,
        name=rule.name,
        position=rule.position,
        conditions=[leads_pb2.RuleCondition(attribute=c.attribute, values=c.values) for c in rule.conditions],
        territory=rule.territory,
        owner_ids=rule.owner_ids,
        capacity_per_owner=rule.capacity_per_owner,
        create_time=timestamp(rule.create_time),
    )


def scoring_rule_to_proto(rule: ScoringRule) -> leads_pb2.ScoringRule:
    return leads_pb2.ScoringRule(
        id=rule.id,
        attribute=rule.attribute,
        value=rule.value,
        points=rule.points,
        create_time=timestamp(rule.create_time),
    )


def settings_to_proto(settings: ScoringSettings) -> leads_pb2.ScoringSettings:
    return leads_pb2.ScoringSettings(
        email_opened_points=settings.email_opened_points,
        email_clicked_points=settings.email_clicked_points,
        form_submitted_points=settings.form_submitted_points,
        half_life_days=settings.half_life_days,
        threshold=settings.threshold,
    )


def settings_from_proto(message: leads_pb2.ScoringSettings) -> ScoringSettings:
    return ScoringSettings(
        message.email_opened_points,
        message.email_clicked_points,
        message.form_submitted_points,
        message.half_life_days,
        message.threshold,
    )
