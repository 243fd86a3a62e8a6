"""What goes on a timeline: one entry per fact, with its title, summary and details. Pure Python.

Every entry is a fact at its own time (a deal moved, a ticket was solved), so entries never update
each other: events arriving out of order still read right once sorted by occur_time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from services.contacts.activity_rules import Activity

CONTACTS, SALES, SUPPORT, MARKETING, INTEGRATIONS = "contacts", "sales", "support", "marketing", "integrations"
MAX_SUMMARY = 500


@dataclass(frozen=True)
class Entry:
    kind: str
    title: str
    summary: str
    occur_time: dt.datetime
    source: str
    source_id: str
    contact_id: str = ""
    account_id: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Money:
    currency_code: str
    units: int
    nanos: int

    def __str__(self) -> str:
        if not self.currency_code:
            return ""
        cents = abs(self.nanos) // 10_000_000
        sign = "-" if self.units < 0 or self.nanos < 0 else ""
        return f"{sign}{abs(self.units)}.{cents:02d} {self.currency_code}"


def shorten(text: str, limit: int = MAX_SUMMARY) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def activity_entries(activity: Activity) -> list[Entry]:
    """An activity on the timeline of each contact and each account it is linked to."""
    data = activity.data
    kind = data.kind.lower()
    attributes: dict[str, Any] = {"activityKind": data.kind, "ownerId": data.owner_id}
    if data.kind == "TASK":
        attributes["done"] = data.done
        if data.due_time is not None:
            attributes["dueTime"] = _rfc3339(data.due_time)
    base = Entry(
        kind=f"activity.{kind}",
        title=f"{kind.capitalize()}: {data.subject}",
        summary=shorten(data.body),
        occur_time=activity.timeline_time,
        source=CONTACTS,
        source_id=activity.id,
        attributes=attributes,
    )
    entries = [replace(base, contact_id=c) for c in data.contact_ids]
    return entries + [replace(base, account_id=a) for a in data.account_ids]


def deal_entry(
    kind: str,
    opportunity: Mapping[str, Any],
    occur_time: dt.datetime,
    amount: Money,
    *,
    reason: str = "",
    from_stage: str = "",
) -> Entry:
    """deal.opened, deal.stage_changed, deal.won or deal.lost from an opportunity snapshot."""
    name, stage = opportunity["name"], opportunity["stage_name"]
    titles = {
        "deal.opened": f"Deal opened: {name}",
        "deal.stage_changed": f"Deal moved to {stage}: {name}",
        "deal.won": f"Deal won: {name}",
        "deal.lost": f"Deal lost: {name}",
    }
    parts = [str(amount)] if str(amount) else []
    if from_stage:
        parts.append(f"from {from_stage} to {stage}")
    if reason:
        parts.append(reason)
    attributes = {
        "stageId": opportunity["stage_id"],
        "stageName": stage,
        "stageCategory": opportunity["stage_category"],
        "pipelineId": opportunity["pipeline_id"],
        "ownerId": opportunity["owner_id"],
        **_money("amount", amount),
    }
    if from_stage:
        attributes["fromStageName"] = from_stage
    if reason:
        attributes["reason"] = reason
    return Entry(
        kind=kind,
        title=titles[kind],
        summary=shorten(" · ".join(parts)),
        occur_time=occur_time,
        source=SALES,
        source_id=opportunity["id"],
        contact_id=opportunity["contact_id"],
        account_id=opportunity["account_id"],
        attributes=attributes,
    )


def ticket_entry(kind: str, ticket: Mapping[str, Any], occur_time: dt.datetime) -> Entry:
    """ticket.opened or ticket.solved, on the requester's timeline."""
    verb = {"ticket.opened": "opened", "ticket.solved": "solved"}[kind]
    return Entry(
        kind=kind,
        title=f"Ticket {verb}: {ticket['subject']}",
        summary=shorten(ticket["description"]) if kind == "ticket.opened" else "",
        occur_time=occur_time,
        source=SUPPORT,
        source_id=ticket["id"],
        contact_id=ticket["requester_id"],
        attributes={"priority": ticket["priority"], "status": ticket["status"], "channel": ticket["channel"]},
    )


def survey_entry(
    survey_id: str, kind: str, ticket_id: str, contact_id: str, score: int, comment: str, occur_time: dt.datetime
) -> Entry:
    """A CSAT or NPS answer (the survey's token never comes here)."""
    scale = "5" if kind == "CSAT" else "10"
    attributes: dict[str, Any] = {"surveyKind": kind, "score": score}
    if ticket_id:
        attributes["ticketId"] = ticket_id
    return Entry(
        kind="survey.answered",
        title=f"{kind} answered: {score}/{scale}",
        summary=shorten(comment),
        occur_time=occur_time,
        source=SUPPORT,
        source_id=survey_id,
        contact_id=contact_id,
        attributes=attributes,
    )


ENGAGEMENT_TITLES = {
    "email.sent": "Campaign email sent",
    "email.opened": "Campaign email opened",
    "email.clicked": "Campaign email clicked",
    "email.bounced": "Campaign email bounced",
    "email.unsubscribed": "Unsubscribed",
    "form.submitted": "Form submitted",
}


def engagement_entry(
    kind: str, engagement: Mapping[str, Any], occur_time: dt.datetime, summary: str, extra: Mapping[str, Any]
) -> Entry:
    campaign = engagement["campaign_name"]
    title = ENGAGEMENT_TITLES[kind] + (f": {campaign}" if campaign else "")
    attributes = {
        "campaignId": engagement["campaign_id"],
        "campaignName": campaign,
        "sequenceId": engagement["sequence_id"],
        **extra,
    }
    return Entry(
        kind=kind,
        title=title,
        summary=shorten(summary),
        occur_time=occur_time,
        source=MARKETING,
        source_id=engagement["message_id"] or engagement["campaign_id"],
        contact_id=engagement["contact_id"],
        attributes={k: v for k, v in attributes.items() if v not in ("", None)},
    )


def money_entry(
    kind: str,
    source: str,
    source_id: str,
    number: str,
    contact_id: str,
    account_id: str,
    amount: Money,
    occur_time: dt.datetime,
    attributes: Mapping[str, Any],
) -> Entry:
    """quote.accepted, invoice.created or payment.received."""
    label = {"quote.accepted": "Quote accepted", "invoice.created": "Invoice", "payment.received": "Payment received"}
    title = label[kind] + (f" {number}" if number else "")
    return Entry(
        kind=kind,
        title=title,
        summary=str(amount),
        occur_time=occur_time,
        source=source,
        source_id=source_id,
        contact_id=contact_id,
        account_id=account_id,
        attributes={**{k: v for k, v in attributes.items() if v not in ("", None)}, **_money("amount", amount)},
    )


def inbound_email_entry(
    message_id: str, contact_id: str, sender: str, subject: str, body: str, occur_time: dt.datetime
) -> Entry:
    return Entry(
        kind="email.received",
        title=f"Email received: {subject}" if subject else "Email received",
        summary=shorten(body),
        occur_time=occur_time,
        source=INTEGRATIONS,
        source_id=message_id,
        contact_id=contact_id,
        attributes={"from": sender, "messageId": message_id},
    )


def _money(name: str, amount: Money) -> dict[str, Any]:
    if not amount.currency_code:
        return {}
    return {name: {"currencyCode": amount.currency_code, "units": str(amount.units), "nanos": amount.nanos}}


def _rfc3339(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
