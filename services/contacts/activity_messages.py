"""Activity and timeline protobuf <-> domain, shared by the servicers and the events."""

from __future__ import annotations

import datetime as dt

from crm.contacts.v1 import activities_pb2, timeline_pb2
from google.protobuf import struct_pb2, timestamp_pb2

from services.contacts.activity_rules import Activity, ActivityFields
from services.contacts.timeline_store import StoredEntry

Kind = activities_pb2.Activity.Kind


def _time(message: activities_pb2.Activity, name: str) -> dt.datetime | None:
    return getattr(message, name).ToDatetime(tzinfo=dt.UTC) if message.HasField(name) else None


def activity_fields_from_proto(message: activities_pb2.Activity) -> ActivityFields:
    return ActivityFields(
        kind=Kind.Name(message.kind) if message.kind else "",
        subject=message.subject,
        body=message.body,
        occur_time=_time(message, "occur_time"),
        due_time=_time(message, "due_time"),
        done=message.done,
        owner_id=message.owner_id,
        contact_ids=tuple(message.contact_ids),
        account_ids=tuple(message.account_ids),
    )


def _timestamp(value: dt.datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def activity_to_proto(activity: Activity) -> activities_pb2.Activity:
    data = activity.data
    message = activities_pb2.Activity(
        id=activity.id,
        kind=Kind.Value(data.kind),
        subject=data.subject,
        body=data.body,
        done=data.done,
        owner_id=data.owner_id,
        contact_ids=data.contact_ids,
        account_ids=data.account_ids,
        create_time=_timestamp(activity.create_time),
        update_time=_timestamp(activity.update_time),
        etag=activity.etag,
    )
    for name, value in (
        ("occur_time", data.occur_time),
        ("due_time", data.due_time),
        ("done_time", activity.done_time),
    ):
        if value is not None:
            getattr(message, name).CopyFrom(_timestamp(value))
    return message


def entry_to_proto(stored: StoredEntry) -> timeline_pb2.TimelineEntry:
    entry = stored.entry
    attributes = struct_pb2.Struct()
    attributes.update(dict(entry.attributes))
    return timeline_pb2.TimelineEntry(
        id=stored.id,
        kind=entry.kind,
        title=entry.title,
        summary=entry.summary,
        occur_time=_timestamp(entry.occur_time),
        source=entry.source,
        source_id=entry.source_id,
        contact_id=entry.contact_id,
        account_id=entry.account_id,
        attributes=attributes,
    )
