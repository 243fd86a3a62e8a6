"""The shared erasure helpers on both databases the suite runs on: outbox rows carrying a person's
identifiers are dropped (others stay), and free text is pseudonymised in place."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from crm.contacts.v1 import contacts_pb2, events_pb2

from crmkit.db import Database, utcnow
from crmkit.events.outbox import Outbox
from crmkit.migrations import upgrade
from crmkit.privacy import Identifiers, purge_outbox, scrub_rows
from services.sales.lead_store import LeadHistoryRow
from services.sales.store import OUTBOX
from tests.infra import Databases, migrations_of


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request, databases: Databases, tmp_path: Path) -> Iterator[Database]:
    url = databases.create("sales") if request.param == "postgresql" else f"sqlite:///{tmp_path / 'sales.db'}"
    upgrade(migrations_of("sales"), url)
    db = Database(url)
    yield db
    db.dispose()


def test_outbox_rows_with_the_identifiers_go_and_the_others_stay(database):
    outbox = Outbox("sales", OUTBOX)
    with database.transaction() as session:
        for given, email in (("Ada", "ada@example.org"), ("Bob", "bob@example.org")):
            contact = contacts_pb2.Contact(id=given, given_name=given, email=email)
            outbox.add(session, events_pb2.ContactCreated(contact=contact), tenant_id="T1", subject=given)
    found = Identifiers.of(["ada@example.org"], [""], ["Ada Lovelace", "Ada"])
    with database.transaction() as session:
        assert purge_outbox(session, OUTBOX, found.needles) == 1
    with database.transaction() as session:
        assert session.execute(sa.select(OUTBOX.c.subject)).scalars().all() == ["Bob"]


def test_free_text_is_pseudonymised_in_place_in_any_case(database):
    history = LeadHistoryRow.__table__
    lines = ["Called ADA@example.org", "Ada Lovelace asked for a demo", "Bob asked too"]
    with database.transaction() as session:
        session.execute(
            sa.insert(history),
            [
                {"tenant_id": t, "lead_id": "L1", "time": utcnow(), "kind": "note", "message": m, "actor": "x"}
                | {"score_delta": 0, "score": 0}
                for t, m in (("T1", lines[0]), ("T1", lines[1]), ("T1", lines[2]), ("T2", lines[1]))
            ],
        )
    found = Identifiers.of(["ada@example.org"], [], ["Ada Lovelace", "Ada", "Lo"])
    with database.transaction() as session:
        changed = scrub_rows(session, history, ["message"], found.needles, history.c.tenant_id == "T1")
    assert changed == 2
    with database.transaction() as session:
        rows = session.execute(sa.select(history.c.tenant_id, history.c.message).order_by(history.c.id)).all()
    assert [tuple(r) for r in rows] == [
        ("T1", "Called [erased]"),
        ("T1", "[erased] asked for a demo"),
        ("T1", "Bob asked too"),
        ("T2", "Ada Lovelace asked for a demo"),  # another tenant's record is not touched
    ]
