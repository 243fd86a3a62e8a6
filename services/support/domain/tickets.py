"""Tickets: validation, the status lifecycle, updates, history entries and etags."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

from crmkit.errors import (
    MULTI_LINE_CONTROL,
    SINGLE_LINE_CONTROL,
    Aborted,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    Validator,
)
from crmkit.etags import etag_of

MAX_SUBJECT = 300
MAX_DESCRIPTION = 64 * 1024
MAX_TAGS = 50
MAX_TAG = 64
MAX_ID = 64
MAX_SKILLS = 20
MAX_COMMENT = 64 * 1024
MAX_THREAD_ID = 998  # RFC 5322 line limit: a Message-ID fits
PRIORITIES = ("LOW", "NORMAL", "HIGH", "URGENT")
CHANNELS = ("EMAIL", "API", "WEB_FORM")
STATUSES = ("NEW", "OPEN", "PENDING", "SOLVED", "CLOSED")
# Which statuses a ticket may move to from each status. Closed is final; solved -> open is a reopen.
TRANSITIONS: dict[str, frozenset[str]] = {
    "NEW": frozenset({"OPEN", "PENDING", "SOLVED", "CLOSED"}),
    "OPEN": frozenset({"PENDING", "SOLVED", "CLOSED"}),
    "PENDING": frozenset({"OPEN", "SOLVED", "CLOSED"}),
    "SOLVED": frozenset({"OPEN", "CLOSED"}),
    "CLOSED": frozenset(),
}
# Statuses in which a ticket still needs work (and counts against its assignee's capacity).
ACTIVE_STATUSES = frozenset({"NEW", "OPEN", "PENDING"})
VISIBILITIES = ("PUBLIC", "INTERNAL")
AUTHOR_TYPES = ("AGENT", "REQUESTER")
# Output-only or concurrency fields: ignored in an update mask (AIP-161), never written by a caller.
SYSTEM_FIELDS = frozenset(
    {
        "id",
        "create_time",
        "update_time",
        "etag",
        "first_response_time",
        "solve_time",
        "reopen_count",
        "first_response_due_time",
        "resolution_due_time",
        "history",
    }
)


@dataclass(frozen=True)
class TicketFields:
    """What a caller may write."""

    subject: str = ""
    description: str = ""
    requester_id: str = ""
    priority: str = ""
    status: str = ""
    channel: str = ""
    tags: tuple[str, ...] = ()
    assignee_id: str = ""
    group_id: str = ""
    required_skills: tuple[str, ...] = ()
    customer_tier: str = ""
    external_thread_id: str = ""

    def populated(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name)]


WRITABLE_FIELDS = frozenset(f.name for f in fields(TicketFields)) - {"external_thread_id"}


@dataclass(frozen=True)
class Ticket:
    id: str
    tenant_id: str
    data: TicketFields
    create_time: dt.datetime
    update_time: dt.datetime
    etag: str
    first_response_time: dt.datetime | None = None
    solve_time: dt.datetime | None = None
    reopen_count: int = 0

    @property
    def status(self) -> str:
        return self.data.status

    @property
    def active(self) -> bool:
        return self.data.status in ACTIVE_STATUSES


@dataclass(frozen=True)
class HistoryEntry:
    time: dt.datetime
    kind: str
    actor: str
    message: str


@dataclass(frozen=True)
class Comment:
    id: str
    tenant_id: str
    ticket_id: str
    body: str
    visibility: str
    author_type: str
    author_id: str
    external_message_id: str
    in_reply_to: str
    create_time: dt.datetime

    @property
    def is_first_response_candidate(self) -> bool:
        return self.visibility == "PUBLIC" and self.author_type == "AGENT"


def normalise(data: TicketFields) -> TicketFields:
    """Validate every field at once and return the normalised copy (defaults filled in)."""
    check = Validator()
    subject = data.subject.strip()
    if not subject:
        check.add("subject", "is required")
    elif len(subject) > MAX_SUBJECT or SINGLE_LINE_CONTROL.search(subject):
        check.add("subject", f"must be one line of at most {MAX_SUBJECT} characters")
    description = data.description.strip()
    if len(description) > MAX_DESCRIPTION or MULTI_LINE_CONTROL.search(description):
        check.add("description", f"must be text of at most {MAX_DESCRIPTION} characters")
    requester_id = check.identifier("requester_id", data.requester_id, MAX_ID)
    channel = data.channel or "API"
    # A ticket opened by an email from an unknown sender has no contact yet: its address is kept on
    # the ticket's email thread instead (docs/adr/0047).
    if not requester_id and channel != "EMAIL":
        check.add("requester_id", "is required (the contact who asked)")
    priority = data.priority or "NORMAL"
    if priority not in PRIORITIES:
        check.add("priority", f"must be one of {', '.join(PRIORITIES)}")
    status = data.status or "NEW"
    if status not in STATUSES:
        check.add("status", f"must be one of {', '.join(STATUSES)}")
    if channel not in CHANNELS:
        check.add("channel", f"must be one of {', '.join(CHANNELS)}")
    tags = check.labels("tags", data.tags, limit=MAX_TAGS, max_length=MAX_TAG)
    skills = check.labels("required_skills", data.required_skills, limit=MAX_SKILLS, max_length=MAX_TAG)
    tier = data.customer_tier.strip().lower()
    if len(tier) > MAX_TAG or SINGLE_LINE_CONTROL.search(tier):
        check.add("customer_tier", f"must be a label of at most {MAX_TAG} characters")
    thread = data.external_thread_id.strip()
    if len(thread) > MAX_THREAD_ID or SINGLE_LINE_CONTROL.search(thread):
        check.add("external_thread_id", f"must be one line of at most {MAX_THREAD_ID} characters")
    check.raise_if_any()
    return TicketFields(
        subject=subject,
        description=description,
        requester_id=requester_id,
        priority=priority,
        status=status,
        channel=channel,
        tags=tags,
        assignee_id=check.identifier("assignee_id", data.assignee_id, MAX_ID),
        group_id=check.identifier("group_id", data.group_id, MAX_ID),
        required_skills=skills,
        customer_tier=tier,
        external_thread_id=thread,
    )


def new_ticket(ticket_id: str, tenant_id: str, data: TicketFields, now: dt.datetime) -> Ticket:
    if data.status not in ("", "NEW"):
        raise InvalidArgument.of([_violation("status", "a new ticket starts NEW; leave it empty")])
    data = normalise(data)
    return Ticket(ticket_id, tenant_id, data, now, now, compute_etag(ticket_id, data, now))


def apply_update(
    ticket: Ticket, patch: TicketFields, mask: Sequence[str], now: dt.datetime
) -> tuple[Ticket, list[str]]:
    """The ticket with the masked fields taken from `patch`, and the names of the fields that changed.

    An empty mask means every populated field of the patch (AIP-134). A status change must be an
    allowed transition; a closed ticket takes no changes at all.
    """
    paths = [p for p in (mask or patch.populated()) if p not in SYSTEM_FIELDS]
    check = Validator()
    for path in paths:
        if path == "external_thread_id":
            check.add("update_mask", "external_thread_id is set on creation and never changes")
        elif path not in WRITABLE_FIELDS:
            check.add("update_mask", f"unknown or read-only field {path!r}")
    check.raise_if_any()
    if ticket.status == "CLOSED" and paths:
        raise FailedPrecondition(f"ticket {ticket.id} is closed; closed tickets do not change")
    values = {p: getattr(patch, p) for p in paths}
    if "status" in values and not values["status"]:
        raise InvalidArgument.of([_violation("status", "cannot be emptied")])
    merged = normalise(replace(ticket.data, **values))
    if merged.status != ticket.status:
        check_transition(ticket.status, merged.status)
    changed = [p for p in sorted(set(paths)) if getattr(merged, p) != getattr(ticket.data, p)]
    if not changed:
        return ticket, []
    updated = replace(ticket, data=merged)
    if "status" in changed:
        updated = _status_side_effects(updated, ticket.status, merged.status, now)
    return touch(updated, now), changed


def transition(ticket: Ticket, to_status: str, now: dt.datetime) -> Ticket:
    """The ticket moved to `to_status` (validated), with solve time and reopen count kept."""
    check_transition(ticket.status, to_status)
    moved = replace(ticket, data=replace(ticket.data, status=to_status))
    return touch(_status_side_effects(moved, ticket.status, to_status, now), now)


def check_transition(from_status: str, to_status: str) -> None:
    if to_status not in STATUSES:
        raise InvalidArgument.of([_violation("status", f"must be one of {', '.join(STATUSES)}")])
    if to_status not in TRANSITIONS[from_status]:
        allowed = ", ".join(sorted(TRANSITIONS[from_status])) or "none: closed is final"
        raise FailedPrecondition(f"a {from_status} ticket cannot become {to_status} (allowed: {allowed})")


def _status_side_effects(ticket: Ticket, from_status: str, to_status: str, now: dt.datetime) -> Ticket:
    if to_status == "SOLVED":
        return replace(ticket, solve_time=now)
    if from_status == "SOLVED" and to_status == "OPEN":
        return replace(ticket, reopen_count=ticket.reopen_count + 1)
    return ticket


def assign(ticket: Ticket, agent_id: str, group_id: str, now: dt.datetime) -> Ticket:
    """The ticket given to an agent (or back to its group queue when `agent_id` is empty).

    An assigned NEW ticket opens: someone is now working on it.
    """
    data = replace(ticket.data, assignee_id=agent_id, group_id=group_id or ticket.data.group_id)
    if agent_id and data.status == "NEW":
        data = replace(data, status="OPEN")
    return touch(replace(ticket, data=data), now)


def record_first_response(ticket: Ticket, comment: Comment) -> Ticket:
    if ticket.first_response_time is not None or not comment.is_first_response_candidate:
        return ticket
    return touch(replace(ticket, first_response_time=comment.create_time), comment.create_time)


def raise_priority(ticket: Ticket, now: dt.datetime) -> Ticket:
    """One step up (urgent stays urgent)."""
    index = PRIORITIES.index(ticket.data.priority)
    priority = PRIORITIES[min(index + 1, len(PRIORITIES) - 1)]
    if priority == ticket.data.priority:
        return ticket
    return touch(replace(ticket, data=replace(ticket.data, priority=priority)), now)


def touch(ticket: Ticket, now: dt.datetime) -> Ticket:
    return replace(ticket, update_time=now, etag=compute_etag(ticket.id, ticket.data, now, ticket.reopen_count))


def check_etag(ticket: Ticket, expected: str) -> None:
    if expected and expected != ticket.etag:
        raise Aborted(f"ticket {ticket.id} was changed since etag {expected}; read it again and retry")


def compute_etag(ticket_id: str, data: TicketFields, update_time: dt.datetime, reopen_count: int = 0) -> str:
    return etag_of(ticket_id, data, update_time, reopen_count)


def new_comment(
    comment_id: str,
    ticket: Ticket,
    body: str,
    visibility: str,
    author_type: str,
    author_id: str,
    external_message_id: str,
    in_reply_to: str,
    now: dt.datetime,
) -> Comment:
    check = Validator()
    body = body.strip()
    if not body:
        check.add("body", "is required")
    elif len(body) > MAX_COMMENT or MULTI_LINE_CONTROL.search(body):
        check.add("body", f"must be text of at most {MAX_COMMENT} characters")
    visibility = visibility or "PUBLIC"
    if visibility not in VISIBILITIES:
        check.add("visibility", f"must be one of {', '.join(VISIBILITIES)}")
    author_type = author_type or "AGENT"
    if author_type not in AUTHOR_TYPES:
        check.add("author_type", f"must be one of {', '.join(AUTHOR_TYPES)}")
    if author_type == "REQUESTER" and visibility == "INTERNAL":
        check.add("visibility", "a requester cannot write internal notes")
    author_id = author_id.strip()
    if len(author_id) > 200 or SINGLE_LINE_CONTROL.search(author_id):
        check.add("author_id", "must be an id of at most 200 characters")
    for name, value in (("external_message_id", external_message_id), ("in_reply_to", in_reply_to)):
        if len(value) > MAX_THREAD_ID or SINGLE_LINE_CONTROL.search(value):
            check.add(name, f"must be one line of at most {MAX_THREAD_ID} characters")
    check.raise_if_any()
    if ticket.status == "CLOSED":
        raise FailedPrecondition(f"ticket {ticket.id} is closed; open a follow-up ticket instead")
    return Comment(
        comment_id,
        ticket.tenant_id,
        ticket.id,
        body,
        visibility,
        author_type,
        author_id,
        external_message_id.strip(),
        in_reply_to.strip(),
        now,
    )


# --- list filters (an AIP-160 subset: conjunctions of equalities) ---

FILTER_FIELDS = {
    "status": "status",
    "priority": "priority",
    "assigneeId": "assignee_id",
    "assignee_id": "assignee_id",
    "groupId": "group_id",
    "group_id": "group_id",
    "requesterId": "requester_id",
    "requester_id": "requester_id",
    "channel": "channel",
}
_TERM = re.compile(r'\s*([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([A-Za-z0-9_]+))\s*')


def parse_filter(text: str) -> dict[str, str]:
    """`status = "OPEN" AND assigneeId = "a1"` -> {"status": "OPEN", "assignee_id": "a1"}."""
    result: dict[str, str] = {}
    if not text.strip():
        return result
    for term in re.split(r"\s+AND\s+", text.strip()):
        match = _TERM.fullmatch(term)
        if match is None:
            raise InvalidArgument.of(
                [_violation("filter", f'cannot read {term.strip()!r}: use field = "value" joined by AND')]
            )
        name, quoted, bare = match.groups()
        column = FILTER_FIELDS.get(name)
        if column is None:
            known = "status, priority, assigneeId, groupId, requesterId, channel"
            raise InvalidArgument.of([_violation("filter", f"cannot filter on {name!r}; one of {known}")])
        value = quoted.replace('\\"', '"') if quoted is not None else bare
        if column in result and result[column] != value:
            raise InvalidArgument.of([_violation("filter", f"{name} is given twice with different values")])
        allowed = {"status": STATUSES, "priority": PRIORITIES, "channel": CHANNELS}.get(column)
        if allowed is not None and value not in allowed:
            raise InvalidArgument.of([_violation("filter", f"{name} must be one of {', '.join(allowed)}")])
        result[column] = value
    return result


def _violation(field: str, description: str) -> FieldViolation:
    return FieldViolation(field, description)


def changed_fields(before: Ticket, after: Ticket) -> list[str]:
    """The writable fields whose values differ between two versions of a ticket."""
    return [f.name for f in fields(TicketFields) if getattr(before.data, f.name) != getattr(after.data, f.name)]
