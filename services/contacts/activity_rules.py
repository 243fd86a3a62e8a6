"""Activity rules: calls, emails, meetings, notes and tasks. Pure Python, no I/O."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from crmkit.errors import Aborted, Validator
from crmkit.etags import etag_of
from crmkit.updates import apply_mask

KINDS = ("CALL", "EMAIL", "MEETING", "NOTE", "TASK")
TASK = "TASK"
MAX_SUBJECT = 300
MAX_BODY = 20_000
MAX_LINKS = 100
MAX_ID = 64
# Output-only or concurrency fields: ignored in an update mask (AIP-161).
SYSTEM_FIELDS = frozenset({"id", "create_time", "update_time", "etag", "done_time"})


@dataclass(frozen=True)
class ActivityFields:
    """What a caller may write."""

    kind: str = ""
    subject: str = ""
    body: str = ""
    occur_time: dt.datetime | None = None
    due_time: dt.datetime | None = None
    done: bool = False
    owner_id: str = ""
    contact_ids: tuple[str, ...] = ()
    account_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Activity:
    id: str
    tenant_id: str
    data: ActivityFields
    # Set when a task is marked done, cleared when it is reopened.
    done_time: dt.datetime | None
    create_time: dt.datetime
    update_time: dt.datetime
    etag: str

    @property
    def timeline_time(self) -> dt.datetime:
        """When it sits on a timeline: a task when done (else when due), anything else when it happened."""
        data = self.data
        if data.kind == TASK:
            return self.done_time or data.due_time or self.create_time
        return data.occur_time or self.create_time


def normalise(data: ActivityFields) -> ActivityFields:
    """Validate every field at once and return the normalised copy."""
    check = Validator()
    if data.kind not in KINDS:
        check.add("kind", f"must be one of {', '.join(KINDS)}")
    subject = check.text("subject", data.subject, MAX_SUBJECT)
    if not subject:
        check.add("subject", "is required")
    body = check.text("body", data.body, MAX_BODY, multiline=True)
    owner_id = check.identifier("owner_id", data.owner_id, MAX_ID)
    contact_ids = check.labels("contact_ids", data.contact_ids, limit=MAX_LINKS, max_length=MAX_ID, allow_slash=False)
    account_ids = check.labels("account_ids", data.account_ids, limit=MAX_LINKS, max_length=MAX_ID, allow_slash=False)
    if not contact_ids and not account_ids:
        check.add("contact_ids", "link the activity to at least one contact or account")
    if data.kind == TASK:
        if data.occur_time is not None:
            check.add("occur_time", "tasks have a due_time instead")
    elif data.kind:
        if data.due_time is not None:
            check.add("due_time", "only tasks are due")
        if data.done:
            check.add("done", "only tasks are done")
    check.raise_if_any()
    return ActivityFields(
        kind=data.kind,
        subject=subject,
        body=body,
        occur_time=data.occur_time,
        due_time=data.due_time,
        done=data.done,
        owner_id=owner_id,
        contact_ids=contact_ids,
        account_ids=account_ids,
    )


def new_activity(activity_id: str, tenant_id: str, data: ActivityFields, now: dt.datetime) -> Activity:
    data = normalise(data)
    if data.kind != TASK and data.occur_time is None:
        data = replace(data, occur_time=now)
    done_time = now if data.done else None
    return Activity(activity_id, tenant_id, data, done_time, now, now, compute_etag(activity_id, data, done_time, now))


def apply_update(
    activity: Activity, patch: ActivityFields, mask: Sequence[str], now: dt.datetime
) -> tuple[Activity, list[str]]:
    """The activity with the masked fields taken from `patch`, and the names of the fields that changed.

    The kind never changes (a call does not become a task); an empty mask means every populated field.
    """
    kind = activity.data.kind
    if ("kind" in mask and patch.kind != kind) or (not mask and patch.kind and patch.kind != kind):
        check = Validator()
        check.add("kind", "cannot change; delete the activity and create another")
        check.raise_if_any()
    patch = replace(patch, kind=activity.data.kind)
    merged, changed = apply_mask(activity.data, patch, [p for p in mask if p != "kind"], normalise, SYSTEM_FIELDS)
    changed = [c for c in changed if c != "kind"]
    if not changed:
        return activity, []
    done_time = activity.done_time
    if "done" in changed:
        done_time = now if merged.done else None
    updated = replace(
        activity,
        data=merged,
        done_time=done_time,
        update_time=now,
        etag=compute_etag(activity.id, merged, done_time, now),
    )
    return updated, changed


def without_contact(activity: Activity, contact_id: str, now: dt.datetime) -> Activity:
    """The activity no longer linked to a (deleted) contact."""
    data = replace(activity.data, contact_ids=tuple(c for c in activity.data.contact_ids if c != contact_id))
    return replace(activity, data=data, update_time=now, etag=compute_etag(activity.id, data, activity.done_time, now))


def check_etag(activity: Activity, expected: str) -> None:
    if expected and expected != activity.etag:
        raise Aborted(f"activity {activity.id} was changed since etag {expected}; read it again and retry")


def compute_etag(
    activity_id: str, data: ActivityFields, done_time: dt.datetime | None, update_time: dt.datetime
) -> str:
    return etag_of(activity_id, data, update_time, done_time.isoformat() if done_time else "")
