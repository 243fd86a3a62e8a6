"""Activities over real gRPC on PostgreSQL: links to the tenant's contacts, filters, etags, masks,
events, own records, and their place on the timeline (written in the same transaction)."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
import sqlalchemy as sa
from crm.contacts.v1 import (
    accounts_pb2,
    accounts_pb2_grpc,
    activities_pb2,
    activities_pb2_grpc,
    contacts_pb2,
    contacts_pb2_grpc,
    timeline_pb2,
    timeline_pb2_grpc,
)
from crm.events.v1.envelope_pb2 import Envelope
from google.protobuf import timestamp_pb2

from crmkit.config import Settings
from crmkit.grpcserver import start_server
from crmkit.tokens import InternalTokens, Principal
from services.contacts.module import build
from services.contacts.store import OUTBOX
from services.contacts.timeline_store import ActivityRow, TimelineEntryRow
from tests.integration.support_helpers import code_of, violations

TOKENS = InternalTokens("a" * 40)
SCOPES = frozenset({"contacts:read", "contacts:write"})
ADMIN_A = Principal("TENANT_A", "apikey:a", SCOPES)
ADMIN_B = Principal("TENANT_B", "apikey:b", SCOPES)
REP_ANN = Principal("TENANT_A", "user:ann", SCOPES, own_records_only=True)
REP_BOB = Principal("TENANT_A", "user:bob", SCOPES, own_records_only=True)
A = activities_pb2.Activity


def as_(principal: Principal) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {TOKENS.mint(principal)}")]


class Stubs:
    def __init__(self, channel: grpc.Channel, database) -> None:
        self.contacts = contacts_pb2_grpc.ContactsServiceStub(channel)
        self.activities = activities_pb2_grpc.ActivitiesServiceStub(channel)
        self.timeline = timeline_pb2_grpc.TimelineServiceStub(channel)
        self.accounts = accounts_pb2_grpc.AccountsServiceStub(channel)
        self.database = database

    def account(self, name: str = "Acme", principal=ADMIN_A) -> str:
        request = accounts_pb2.CreateAccountRequest(account=accounts_pb2.Account(name=name))
        return self.accounts.CreateAccount(request, metadata=as_(principal), timeout=5).id

    def contact(self, principal=ADMIN_A, **fields) -> contacts_pb2.Contact:
        request = contacts_pb2.CreateContactRequest(contact=contacts_pb2.Contact(**fields))
        return self.contacts.CreateContact(request, metadata=as_(principal), timeout=5)

    def create(self, principal=ADMIN_A, **fields) -> activities_pb2.Activity:
        request = activities_pb2.CreateActivityRequest(activity=A(**fields))
        return self.activities.CreateActivity(request, metadata=as_(principal), timeout=5)

    def list(self, principal=ADMIN_A, **request) -> list[str]:
        found = self.activities.ListActivities(
            activities_pb2.ListActivitiesRequest(**request), metadata=as_(principal), timeout=5
        )
        return [a.subject for a in found.activities]

    def update(self, principal, activity_id: str, paths: list[str], **fields) -> activities_pb2.Activity:
        request = activities_pb2.UpdateActivityRequest(
            id=activity_id, activity=A(**fields), update_mask={"paths": paths}
        )
        return self.activities.UpdateActivity(request, metadata=as_(principal), timeout=5)

    def timeline_kinds(self, contact_id: str, principal=ADMIN_A) -> list[tuple[str, str]]:
        request = timeline_pb2.ListContactTimelineRequest(contact_id=contact_id)
        entries = self.timeline.ListContactTimeline(request, metadata=as_(principal), timeout=5).entries
        return [(e.kind, e.title) for e in entries]

    def count(self, table) -> int:
        with self.database.transaction() as session:
            return session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()

    def event_types(self) -> list[str]:
        with self.database.transaction() as session:
            payloads = session.execute(sa.select(OUTBOX.c.payload).order_by(OUTBOX.c.id)).scalars().all()
        return [Envelope.FromString(p).type.rsplit(".", 1)[-1] for p in payloads]


@pytest.fixture
def stubs(migrated):
    database = migrated("contacts")
    module = build(Settings.from_env({"CRM_CONTACTS_DATABASE_URL": database.url}))
    server = start_server("contacts", module.registrations, module.grpc_services, "127.0.0.1:0", TOKENS)
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    yield Stubs(channel, database)
    channel.close()
    server.stop(0)
    module.database.dispose()


def at(day: int, hour: int = 12) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(dt.datetime(2026, 12, day, hour, tzinfo=dt.UTC))
    return stamp


def test_an_activity_links_only_the_tenants_contacts_and_bad_input_writes_nothing(stubs):
    ada = stubs.contact(given_name="Ada")
    foreign = stubs.contact(ADMIN_B, given_name="Eve")
    before = (stubs.count(ActivityRow), stubs.count(OUTBOX), stubs.count(TimelineEntryRow))
    assert violations(lambda: stubs.create(kind=A.CALL, subject="Intro", contact_ids=[foreign.id, ada.id])) == {
        "contact_ids[0]"
    }
    assert violations(lambda: stubs.create(kind=A.CALL, subject="Nobody")) == {"contact_ids"}
    assert violations(lambda: stubs.create(subject="", contact_ids=[ada.id])) == {"kind", "subject"}
    assert violations(
        lambda: stubs.create(kind=A.CALL, subject="Due?", due_time=at(3), done=True, contact_ids=[ada.id])
    ) == {"due_time", "done"}
    assert violations(lambda: stubs.create(kind=A.TASK, subject="x\ny", contact_ids=[ada.id])) == {"subject"}
    assert (stubs.count(ActivityRow), stubs.count(OUTBOX), stubs.count(TimelineEntryRow)) == before


def test_crud_with_masks_etags_done_times_and_one_event_per_change(stubs):
    ada = stubs.contact(given_name="Ada")
    task = stubs.create(kind=A.TASK, subject="Send the contract", due_time=at(5), contact_ids=[ada.id])
    assert task.owner_id == "" and not task.HasField("done_time") and not task.HasField("occur_time")
    call = stubs.create(kind=A.CALL, subject="Intro call", body="Went well", contact_ids=[ada.id])
    assert call.HasField("occur_time"), "a call without a time happened now"

    done = stubs.update(ADMIN_A, task.id, ["done"], done=True)
    assert done.done and done.HasField("done_time") and done.etag != task.etag and done.subject == task.subject
    stale = activities_pb2.UpdateActivityRequest(
        id=task.id, activity=A(subject="late", etag=task.etag), update_mask={"paths": ["subject"]}
    )
    assert code_of(lambda: stubs.activities.UpdateActivity(stale, metadata=as_(ADMIN_A))) == grpc.StatusCode.ABORTED
    assert violations(lambda: stubs.update(ADMIN_A, task.id, ["kind"], kind=A.NOTE)) == {"kind"}
    reopened = stubs.update(ADMIN_A, task.id, ["done"], done=False)
    assert not reopened.done and not reopened.HasField("done_time")

    got = stubs.activities.GetActivity(activities_pb2.GetActivityRequest(id=call.id), metadata=as_(ADMIN_A))
    assert (got.subject, got.body, list(got.contact_ids)) == ("Intro call", "Went well", [ada.id])
    stubs.activities.DeleteActivity(activities_pb2.DeleteActivityRequest(id=call.id), metadata=as_(ADMIN_A))
    gone = activities_pb2.GetActivityRequest(id=call.id)
    assert code_of(lambda: stubs.activities.GetActivity(gone, metadata=as_(ADMIN_A))) == grpc.StatusCode.NOT_FOUND
    assert stubs.event_types()[1:] == [
        "ActivityCreated",
        "ActivityCreated",
        "ActivityUpdated",
        "ActivityUpdated",
        "ActivityDeleted",
    ]


def test_filters_and_order_by(stubs):
    acme = stubs.account()
    ada, bob = stubs.contact(given_name="Ada"), stubs.contact(given_name="Bob")
    stubs.create(kind=A.TASK, subject="late task", due_time=at(20), contact_ids=[ada.id])
    stubs.create(kind=A.TASK, subject="early task", due_time=at(2), contact_ids=[bob.id], account_ids=[acme])
    stubs.create(kind=A.MEETING, subject="meeting", occur_time=at(1), contact_ids=[ada.id, bob.id])
    stubs.create(kind=A.NOTE, subject="account note", account_ids=[acme], owner_id="user:ann")
    done = stubs.create(kind=A.TASK, subject="done task", due_time=at(9), contact_ids=[ada.id])
    stubs.update(ADMIN_A, done.id, ["done"], done=True)

    assert stubs.list(filter="kind = TASK AND done = false", order_by="dueTime") == ["early task", "late task"]
    assert stubs.list(filter='dueTime < "2026-12-10T00:00:00Z"', order_by="dueTime desc") == [
        "done task",
        "early task",
    ]
    assert stubs.list(filter=f'contactIds:"{bob.id}"') == ["early task", "meeting"]
    assert stubs.list(filter=f'accountIds:"{acme}"') == ["early task", "account note"]
    assert stubs.list(filter='ownerId = "user:ann"') == ["account note"]
    assert violations(lambda: stubs.list(filter="done = maybe")) == {"filter"}
    assert violations(lambda: stubs.list(order_by="body")) == {"order_by"}
    pages, token, seen = 0, "", []
    while True:
        page = stubs.activities.ListActivities(
            activities_pb2.ListActivitiesRequest(page_size=2, page_token=token, order_by="createTime desc"),
            metadata=as_(ADMIN_A),
        )
        seen += [a.subject for a in page.activities]
        pages, token = pages + 1, page.next_page_token
        if not token:
            break
    assert pages == 3 and seen[0] == "done task" and len(set(seen)) == 5
    assert stubs.list(ADMIN_B) == []


def test_a_sales_rep_sees_and_links_only_its_own_records(stubs):
    anns = stubs.contact(REP_ANN, given_name="Ann's")
    bobs = stubs.contact(REP_BOB, given_name="Bob's")
    mine = stubs.create(REP_ANN, kind=A.NOTE, subject="mine", contact_ids=[anns.id])
    assert mine.owner_id == "user:ann"
    assert violations(lambda: stubs.create(REP_ANN, kind=A.NOTE, subject="x", contact_ids=[bobs.id])) == {
        "contact_ids[0]"
    }
    stubs.create(REP_BOB, kind=A.NOTE, subject="bob's", contact_ids=[bobs.id])
    assert stubs.list(REP_ANN) == ["mine"]
    get = activities_pb2.GetActivityRequest(id=mine.id)
    assert code_of(lambda: stubs.activities.GetActivity(get, metadata=as_(REP_BOB))) == grpc.StatusCode.NOT_FOUND
    assert code_of(lambda: stubs.timeline_kinds(anns.id, REP_BOB)) == grpc.StatusCode.NOT_FOUND


def test_activities_are_on_their_timelines_at_once_and_follow_changes(stubs):
    acme = stubs.account()
    ada = stubs.contact(given_name="Ada", account_ids=[acme])
    call = stubs.create(kind=A.CALL, subject="Intro", occur_time=at(3), contact_ids=[ada.id], account_ids=[acme])
    stubs.create(kind=A.NOTE, subject="Older", occur_time=at(1), contact_ids=[ada.id])
    assert stubs.timeline_kinds(ada.id) == [("activity.call", "Call: Intro"), ("activity.note", "Note: Older")]
    account = timeline_pb2.ListAccountTimelineRequest(account_id=acme)
    entries = stubs.timeline.ListAccountTimeline(account, metadata=as_(ADMIN_A)).entries
    assert [(e.kind, e.source, e.source_id, e.account_id) for e in entries] == [
        ("activity.call", "contacts", call.id, acme)
    ]
    stubs.update(ADMIN_A, call.id, ["subject"], subject="First call")
    assert stubs.timeline_kinds(ada.id)[0] == ("activity.call", "Call: First call")
    stubs.activities.DeleteActivity(activities_pb2.DeleteActivityRequest(id=call.id), metadata=as_(ADMIN_A))
    assert stubs.timeline_kinds(ada.id) == [("activity.note", "Note: Older")]
    unknown = timeline_pb2.ListAccountTimelineRequest(account_id="NOPE")
    assert code_of(lambda: stubs.timeline.ListAccountTimeline(unknown, metadata=as_(ADMIN_A))) == (
        grpc.StatusCode.NOT_FOUND
    )
    foreign = timeline_pb2.ListAccountTimelineRequest(account_id=acme)
    assert code_of(lambda: stubs.timeline.ListAccountTimeline(foreign, metadata=as_(ADMIN_B))) == (
        grpc.StatusCode.NOT_FOUND
    )


def test_deleting_a_contact_removes_its_timeline_and_activity_links_in_the_same_transaction(stubs):
    acme = stubs.account()
    ada, bob = stubs.contact(given_name="Ada"), stubs.contact(given_name="Bob")
    shared = stubs.create(kind=A.MEETING, subject="Both", contact_ids=[ada.id, bob.id])
    only_ada = stubs.create(kind=A.NOTE, subject="Ada only", contact_ids=[ada.id])
    with_account = stubs.create(kind=A.NOTE, subject="Ada at Acme", contact_ids=[ada.id], account_ids=[acme])
    stubs.contacts.DeleteContact(contacts_pb2.DeleteContactRequest(id=ada.id), metadata=as_(ADMIN_A))

    def get(activity_id: str):
        return stubs.activities.GetActivity(activities_pb2.GetActivityRequest(id=activity_id), metadata=as_(ADMIN_A))

    assert list(get(shared.id).contact_ids) == [bob.id]
    assert code_of(lambda: get(only_ada.id)) == grpc.StatusCode.NOT_FOUND
    assert list(get(with_account.id).contact_ids) == [] and list(get(with_account.id).account_ids) == [acme]
    with stubs.database.transaction() as session:
        left = session.execute(sa.select(TimelineEntryRow.contact_id, TimelineEntryRow.account_id)).all()
    assert sorted(left) == sorted([(bob.id, ""), ("", acme)]), "nothing of Ada's is left on any timeline"
    assert sorted(stubs.event_types()[-4:]) == [
        "ActivityDeleted",
        "ActivityUpdated",
        "ActivityUpdated",
        "ContactDeleted",
    ]
