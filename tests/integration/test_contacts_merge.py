"""Merging contacts and finding duplicates on the real databases; the merge event over the real broker."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from crm.contacts.v1 import events_pb2
from crm.events.v1.envelope_pb2 import Envelope

from crmkit.config import Settings
from crmkit.db import Database
from crmkit.errors import Aborted, FailedPrecondition, InvalidArgument, NotFound
from crmkit.events.outbox import Outbox
from crmkit.events.rabbitmq import RabbitBus
from crmkit.events.relay import OutboxRelay
from crmkit.migrations import upgrade
from crmkit.tokens import Principal
from services.contacts import merging
from services.contacts.dedup_store import ContactMergeRow, DuplicatePairRow
from services.contacts.domain import ContactFields
from services.contacts.module import MIGRATIONS
from services.contacts.store import OUTBOX
from services.contacts.usecases import Contacts
from services.marketing import store as audience
from services.marketing.events import contact_projection
from services.support import store as support_store
from services.support.contact_merges import contact_merges
from services.support.domain.tickets import TicketFields
from services.support.store import OUTBOX as SUPPORT_OUTBOX
from services.support.usecases import Tickets
from tests.integration.events_support import RunningConsumer, wait_until

ME = Principal("T1", "user:1", frozenset({"admin"}))
OTHER = Principal("T2", "user:2", frozenset({"admin"}))


class World:
    def __init__(self, database: Database, repointers=None) -> None:
        self.database = database
        self.outbox = Outbox("contacts", OUTBOX)
        self.contacts = Contacts(database, self.outbox)
        self.merges = merging.Merges(database, self.outbox, repointers or merging.REPOINTERS)
        self.scans = merging.DuplicateScans(database)

    def add(self, principal: Principal = ME, **fields):
        return self.contacts.create(principal, ContactFields(**fields), allow_duplicate_email=True)

    def events(self, kind: str) -> list[Envelope]:
        with self.database.transaction() as session:
            rows = session.execute(sa.select(OUTBOX.c.payload)).scalars().all()
        envelopes = [Envelope.FromString(r) for r in rows]
        return [e for e in envelopes if e.type == f"crm.contacts.v1.{kind}"]

    def count(self, table) -> int:
        with self.database.transaction() as session:
            return session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


@pytest.fixture(params=["postgresql", "sqlite"])
def world(request, migrated, tmp_path):
    if request.param == "postgresql":
        database = migrated("contacts")
    else:
        url = f"sqlite:///{tmp_path / 'contacts.db'}"
        upgrade(MIGRATIONS, url)
        database = Database(url)
    yield World(database)
    database.dispose()


def test_a_merge_keeps_the_winner_fills_gaps_from_the_loser_and_the_losers_id_resolves_to_it(world):
    winner = world.add(given_name="Ada", family_name="Lovelace", email="ada@acme.io", tags=("vip",))
    loser = world.add(given_name="Adda", family_name="Lovelace", phone="+442071234567", tags=("board",))
    merged = world.merges.merge(ME, winner.id, [loser.id], etag=winner.etag, loser_etags={loser.id: loser.etag})
    assert (merged.id, merged.data.given_name, merged.data.phone) == (winner.id, "Ada", "+442071234567")
    assert merged.data.tags == ("vip", "board") and merged.etag != winner.etag
    resolved = world.contacts.get(ME, loser.id)
    assert resolved.id == winner.id, "the loser's id answers the winner; the id tells the caller"
    updated = world.contacts.update(ME, loser.id, ContactFields(title="Countess"), ["title"], merged.etag)
    assert updated.id == winner.id and world.contacts.get(ME, winner.id).data.title == "Countess"
    listed, _ = world.contacts.list(ME, 50, "")
    assert [c.id for c in listed] == [winner.id]
    with pytest.raises(NotFound):  # an old id never deletes the survivor
        world.contacts.delete(ME, loser.id, "")
    [event] = world.events("ContactsMerged")
    payload = events_pb2.ContactsMerged.FromString(event.data)
    assert (payload.winner_id, list(payload.loser_ids), payload.contact.phone) == (
        winner.id,
        [loser.id],
        "+442071234567",
    )
    with world.database.transaction() as session:
        [history] = session.scalars(sa.select(ContactMergeRow)).all()
        assert (history.winner_id, history.loser_id, history.sources["phone"]) == (winner.id, loser.id, loser.id)


def test_merged_twice_the_first_losers_id_follows_to_the_last_winner(world):
    a, b, c = (world.add(given_name=n, family_name="Hopper") for n in ("Grace", "Gracie", "G."))
    world.merges.merge(ME, b.id, [a.id])
    world.merges.merge(ME, c.id, [b.id])
    assert world.contacts.get(ME, a.id).id == c.id
    assert world.contacts.get(ME, b.id).id == c.id


def test_bad_merges_write_nothing(world):
    winner = world.add(given_name="Ada", email="ada@acme.io")
    loser = world.add(given_name="Ada", email="ADA@acme.io")
    foreign = world.add(OTHER, given_name="Ada", email="ada@acme.io")
    with pytest.raises(InvalidArgument) as itself:
        world.merges.merge(ME, winner.id, [winner.id])
    assert [v.field for v in itself.value.violations] == ["loser_ids"]
    with pytest.raises(NotFound):
        world.merges.merge(ME, winner.id, ["01UNKNOWN0000000000000000"])
    with pytest.raises(NotFound):
        world.merges.merge(ME, winner.id, [foreign.id])
    with pytest.raises(Aborted):
        world.merges.merge(ME, winner.id, [loser.id], etag="stale")
    with pytest.raises(Aborted):
        world.merges.merge(ME, winner.id, [loser.id], loser_etags={loser.id: "stale"})
    with pytest.raises(InvalidArgument):
        world.merges.merge(ME, winner.id, [loser.id], choices={"email": foreign.id})
    assert world.contacts.get(ME, loser.id).id == loser.id, "nothing was merged"
    assert world.contacts.get(ME, winner.id).etag == winner.etag
    assert world.events("ContactsMerged") == [] and world.count(ContactMergeRow) == 0
    world.merges.merge(ME, winner.id, [loser.id])
    with pytest.raises(FailedPrecondition) as again:
        world.merges.merge(ME, winner.id, [loser.id])
    assert winner.id in str(again.value)


def test_every_registered_repointer_runs_in_the_merge_transaction_and_a_failing_one_undoes_it(world):
    calls: list[tuple[str, str, str]] = []

    def record(session, tenant_id, loser_id, winner_id):
        calls.append((tenant_id, loser_id, winner_id))

    def broken(session, tenant_id, loser_id, winner_id):
        raise RuntimeError("activities table unavailable")

    winner, loser = world.add(given_name="Ada"), world.add(given_name="Adda")
    failing = merging.Merges(world.database, world.outbox, [*merging.REPOINTERS, record, broken])
    with pytest.raises(RuntimeError):
        failing.merge(ME, winner.id, [loser.id])
    assert world.contacts.get(ME, loser.id).id == loser.id and world.count(ContactMergeRow) == 0
    working = merging.Merges(world.database, world.outbox, [*merging.REPOINTERS, record])
    calls.clear()
    working.merge(ME, winner.id, [loser.id])
    assert calls == [("T1", loser.id, winner.id)]


def test_find_duplicates_explains_each_candidate_and_stays_in_the_tenant(world):
    ada = world.add(given_name="Katherine", family_name="Johnson", email="k.johnson@nasa.gov")
    typo = world.add(given_name="Katharine", family_name="Johnson", email="K.Johnson@nasa.gov")
    swapped = world.add(given_name="Johnson", family_name="Katherine", phone="+12025550100")
    world.add(given_name="Dorothy", family_name="Vaughan", email="dvaughan@nasa.gov")
    world.add(OTHER, given_name="Katherine", family_name="Johnson", email="k.johnson@nasa.gov")
    # A name alone (swapped has only a phone, ada only an email) is a hint below the default threshold.
    assert [c.contact.id for c in world.merges.find_duplicates(ME, ada.id)] == [typo.id]
    found = world.merges.find_duplicates(ME, ada.id, threshold=0.7)
    assert [c.contact.id for c in found] == [typo.id, swapped.id]
    assert {m.field: m.how for m in found[0].scored.matches} == {"email": "exact", "name": "similar"}
    assert {m.field: m.how for m in found[1].scored.matches} == {"name": "swapped"}
    with pytest.raises(InvalidArgument):
        world.merges.find_duplicates(ME, ada.id, threshold=1.5)
    with pytest.raises(NotFound):
        world.merges.find_duplicates(OTHER, ada.id)


def test_a_scan_resumes_where_it_stopped_and_finds_what_one_pass_finds(world):
    people = [("Ada", "Lovelace", "ada@acme.io"), ("Adda", "Lovelace", "ADA@acme.io"), ("Grace", "Hopper", "")]
    people += [("Grace", "Hoper", ""), ("Alan", "Turing", "alan@bletchley.uk"), ("Turing", "Alan", "")]
    people += [(f"Person{n}", f"Unique{n}", f"p{n}@x.io") for n in range(8)]
    for given, family, email in people:
        world.add(given_name=given, family_name=family, email=email)
    world.add(OTHER, given_name="Ada", family_name="Lovelace", email="ada@acme.io")
    first = world.scans.create(ME, 0.7)  # the name-only pairs are hints below the default 0.8
    assert (first.state, first.phase, first.total_contacts) == ("RUNNING", "INDEXING", len(people))
    interrupted = merging.DuplicateScanner(world.database, contacts_per_batch=3, blocks_per_batch=4)
    for _ in range(5):
        assert interrupted.step()
    resumed = merging.DuplicateScanner(world.database, contacts_per_batch=3, blocks_per_batch=4)
    resumed.run_until_idle()
    done = world.scans.get(ME, first.id)
    assert (done.state, done.phase) == ("SUCCEEDED", "DONE")
    second = world.scans.create(ME, 0.7)
    merging.DuplicateScanner(world.database).run_until_idle()

    def names(scan_id):
        pairs, token = world.scans.pairs(ME, scan_id, 100, "")
        by_id = {c.id: c.data.given_name + " " + c.data.family_name for c in world.contacts.list(ME, 100, "")[0]}
        return token, sorted(tuple(sorted((by_id[p.contact_a], by_id[p.contact_b]))) for p in pairs)

    assert names(first.id) == names(second.id)
    token, found = names(first.id)
    assert found == [("Ada Lovelace", "Adda Lovelace"), ("Alan Turing", "Turing Alan"), ("Grace Hoper", "Grace Hopper")]
    assert world.scans.get(ME, first.id).pairs_found == 3
    page, token = world.scans.pairs(ME, first.id, 2, "")
    rest, last = world.scans.pairs(ME, first.id, 2, token)
    assert len(page) == 2 and len(rest) == 1 and last == "" and page[0].score >= page[1].score >= rest[0].score
    with pytest.raises(NotFound):
        world.scans.get(OTHER, first.id)
    best = page[0]
    world.merges.merge(ME, best.contact_a, [best.contact_b])
    assert world.count(DuplicatePairRow) == 4, "the pair naming the loser is gone from both scans"


# --- over the broker: marketing's audience and support's tickets follow the merge ---------------


@pytest.fixture
def bus(amqp_url, amqp_prefix):
    return RabbitBus(amqp_url, amqp_prefix, retry_delays_ms=(50, 100, 200), prefetch=8)


def test_contacts_merged_reaches_the_marketing_audience_and_the_support_tickets(migrated, bus):
    world = World(migrated("contacts"))
    marketing_db, support_db = migrated("marketing"), migrated("support")
    support_outbox = Outbox("support", SUPPORT_OUTBOX)
    projection, merges_consumer = contact_projection(marketing_db), contact_merges(support_db, support_outbox)
    for consumer in (projection, merges_consumer):
        bus.declare(consumer.subscription)
    running = [RunningConsumer(bus, c.subscription, c.handle_batch) for c in (projection, merges_consumer)]
    relay = OutboxRelay(world.database, OUTBOX, bus.publisher(), source="contacts")
    agent = Principal("T1", "agent:1", frozenset({"support:read", "support:write"}))
    try:
        winner = world.add(given_name="Ada", family_name="Lovelace", email="ada@acme.io")
        loser = world.add(given_name="Adda", family_name="Lovelace", email="adda@acme.io", tags=("board",))
        ticket = Tickets(support_db, support_outbox).create(agent, TicketFields(subject="Help", requester_id=loser.id))
        relay.publish_batch()

        def member(contact_id):
            with marketing_db.transaction() as session:
                return audience.get(session, "T1", contact_id)

        wait_until(lambda: member(loser.id) is not None and member(winner.id) is not None, what="the projection")
        world.merges.merge(ME, winner.id, [loser.id])
        assert relay.publish_batch() == 1

        def requester():
            with support_db.transaction() as session:
                return support_store.get_ticket(session, "T1", ticket.ticket.id).data.requester_id

        wait_until(lambda: member(loser.id).deleted and requester() == winner.id, what="both consumers")
    finally:
        for consumer in running:
            consumer.close()
    assert member(winner.id).tags == ("board",) and not member(winner.id).deleted
    assert member(loser.id).email == "", "the loser's tombstone keeps no personal data"
    with support_db.transaction() as session:
        types = [Envelope.FromString(p).type for p in session.execute(sa.select(SUPPORT_OUTBOX.c.payload)).scalars()]
    assert types.count("crm.support.v1.TicketUpdated") == 1


def test_a_merge_moves_the_losers_accounts_activities_and_timeline_to_the_winner(world):
    """The service's own re-pointers: what contacts keeps about the loser follows it to the winner."""
    from services.contacts.accounts import AccountFields
    from services.contacts.activities import Activities
    from services.contacts.activity_rules import ActivityFields
    from services.contacts.domain import Association
    from services.contacts.module import build
    from services.contacts.timeline import Timeline
    from services.contacts.usecases_accounts import Accounts

    module = build(Settings.from_env({"CRM_CONTACTS_DATABASE_URL": world.database.url}))
    merges = next(s for _, s in module.registrations if type(s).__name__ == "DuplicatesServicer").merges
    module.database.dispose()
    accounts = Accounts(world.database, world.outbox)
    acme, globex = (accounts.create(ME, AccountFields(name=n)).id for n in ("Acme", "Globex"))
    winner = world.add(given_name="Ada", account_associations=(Association(acme, "buyer", True),))
    loser = world.add(given_name="Adda", account_associations=(Association(globex, "billing", True),))
    note = Activities(world.database, world.outbox).create(
        ME, ActivityFields(kind="NOTE", subject="Met at the fair", contact_ids=(loser.id,))
    )
    merges.merge(ME, winner.id, [loser.id])
    merged = world.contacts.get(ME, winner.id)
    assert merged.data.account_associations == (Association(acme, "buyer", True), Association(globex, "billing"))
    assert Activities(world.database, world.outbox).get(ME, note.id).data.contact_ids == (winner.id,)
    entries, _ = Timeline(world.database).of_contact(ME, winner.id, 50, "", "")
    assert note.id in {e.entry.source_id for e in entries}
