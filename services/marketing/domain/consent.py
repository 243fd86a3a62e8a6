"""Consent and suppression rules, and the one decision every send path must ask: `may_send`.

Pure Python, no I/O. A subscription is per contact and channel; its history is append-only (the
store keeps every change). A suppression is per tenant and normalised address: it outlives the
contact id (a re-imported contact with the same address is still suppressed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Container, Mapping
from dataclasses import dataclass

from crmkit.errors import FailedPrecondition, Validator
from services.marketing.domain import AudienceMember

CHANNELS = ("email", "sms")
SUBSCRIBED, UNSUBSCRIBED = "SUBSCRIBED", "UNSUBSCRIBED"
STATUSES = (SUBSCRIBED, UNSUBSCRIBED)
LEGAL_BASES = ("CONSENT", "LEGITIMATE_INTEREST", "CONTRACT", "LEGAL_OBLIGATION")
HARD_BOUNCE, COMPLAINT = "HARD_BOUNCE", "COMPLAINT"


@dataclass(frozen=True)
class Subscription:
    tenant_id: str
    contact_id: str
    channel: str
    status: str
    # Why we may (or were told not to) contact: CONSENT, LEGITIMATE_INTEREST, CONTRACT, ...
    legal_basis: str
    # Where the decision came from: "web form 42", "unsubscribe link", "admin:ann", ...
    source: str
    update_time: dt.datetime
    # Set on a subscription the contact explicitly asked for (a new opt-in after an unsubscribe).
    explicit_opt_in: bool = False


@dataclass(frozen=True)
class ConsentRequest:
    channel: str
    status: str
    legal_basis: str
    source: str
    explicit_opt_in: bool


@dataclass(frozen=True)
class Recipient:
    """What `may_send` needs about one contact: its audience copy and its subscriptions by channel."""

    member: AudienceMember
    subscriptions: Mapping[str, Subscription]


@dataclass(frozen=True)
class SendDecision:
    allowed: bool
    # Why not (empty when allowed): stable words a send log can count.
    reason: str = ""


def normalise_email(address: str) -> str:
    """The suppression key of an address: trimmed and lower-cased as a whole (over-matching a
    case-sensitive local part suppresses too much, never too little)."""
    return address.strip().lower()


def validate_request(request: ConsentRequest) -> ConsentRequest:
    check = Validator()
    if request.channel not in CHANNELS:
        check.add("channel", f"must be one of {', '.join(CHANNELS)}")
    if request.status not in STATUSES:
        check.add("status", f"must be one of {', '.join(STATUSES)}")
    if request.legal_basis not in LEGAL_BASES:
        check.add("legalBasis", f"must be one of {', '.join(LEGAL_BASES)}")
    source = check.text("source", request.source, 200)
    if not source:
        check.add("source", "is required (where the decision came from)")
    if request.explicit_opt_in and (request.status != SUBSCRIBED or request.legal_basis != "CONSENT"):
        check.add("explicitOptIn", "only a SUBSCRIBED status with legal basis CONSENT can be an explicit opt-in")
    check.raise_if_any()
    return ConsentRequest(request.channel, request.status, request.legal_basis, source, request.explicit_opt_in)


def change(
    current: Subscription | None, request: ConsentRequest, tenant_id: str, contact_id: str, now: dt.datetime
) -> Subscription | None:
    """The subscription after `request`, or None when nothing changes.

    An unsubscribe is final: only an explicit opt-in (status SUBSCRIBED, basis CONSENT,
    explicitOptIn) lifts it; anything else trying to subscribe the contact again is refused.
    """
    if (
        current is not None
        and current.status == UNSUBSCRIBED
        and request.status == SUBSCRIBED
        and not request.explicit_opt_in
    ):
        raise FailedPrecondition(
            f"the contact unsubscribed from {request.channel}; only an explicit new opt-in "
            "(explicitOptIn with legal basis CONSENT) can subscribe it again"
        )
    updated = Subscription(
        tenant_id,
        contact_id,
        request.channel,
        request.status,
        request.legal_basis,
        request.source,
        now,
        request.explicit_opt_in,
    )
    if current is not None and _same(current, updated):
        return None
    return updated


def _same(a: Subscription, b: Subscription) -> bool:
    return (a.status, a.legal_basis, a.source, a.explicit_opt_in) == (
        b.status,
        b.legal_basis,
        b.source,
        b.explicit_opt_in,
    )


def may_send(recipient: Recipient, channel: str, suppression: Container[str]) -> SendDecision:
    """Whether a message on `channel` may go to `recipient`. Every send path asks this, with the
    tenant's suppression list (normalised addresses); there is no other way to decide."""
    member = recipient.member
    if member.deleted:
        return SendDecision(False, "contact_deleted")
    if channel not in CHANNELS:
        return SendDecision(False, "unknown_channel")
    subscription = recipient.subscriptions.get(channel)
    if subscription is None:
        return SendDecision(False, "no_consent")
    if subscription.status != SUBSCRIBED:
        return SendDecision(False, "unsubscribed")
    if subscription.legal_basis not in LEGAL_BASES:
        return SendDecision(False, "no_legal_basis")
    if channel == "email":
        if not member.email.strip():
            return SendDecision(False, "no_address")
        if normalise_email(member.email) in suppression:
            return SendDecision(False, "suppressed")
    if channel == "sms" and not member.phone.strip():
        return SendDecision(False, "no_address")
    return SendDecision(True)
