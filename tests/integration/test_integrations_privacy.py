"""Integrations' erasure on both databases: a message waiting to be sent that names the person in an
encoded body is never sent, sync dead letters lose the person's identifiers (also JSON-escaped),
and what does not mention the person stays as it was."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from crmkit.db import Database
from crmkit.events.outbox import Outbox
from crmkit.migrations import upgrade
from crmkit.privacy import Identifiers
from services.integrations import privacy
from services.integrations.connections import add_dead_letter
from services.integrations.email import mime
from services.integrations.email.usecases import Emails
from services.integrations.store import OUTBOX, DeadLetterRow, EmailDeliveryRow
from tests.infra import Databases, migrations_of

PERSON = Identifiers.of(["zoe.brule@example.org"], ["+33612345678"], ["Zoë Brûlé", "Zoë", "Brûlé"])


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request, databases: Databases, tmp_path: Path) -> Iterator[Database]:
    name = "integrations"
    url = databases.create(name) if request.param == "postgresql" else f"sqlite:///{tmp_path / 'integrations.db'}"
    upgrade(migrations_of(name), url)
    db = Database(url)
    yield db
    db.dispose()


def queue(emails: Emails, database: Database, key: str, to: str, body: str) -> str:
    outgoing = mime.validate(
        mime.Outgoing(
            from_address="help@acme.example.com",
            to_addresses=(to,),
            cc_addresses=(),
            subject="Your order",
            text_body=body,
            html_body="",
            headers={},
            in_reply_to="",
            references=(),
            message_id=f"{key}@acme.example.com",
        )
    )
    with database.transaction() as session:
        return emails.enqueue(session, "T1", key, "CONN", outgoing, "support", "ticket-1")


def test_unsent_mail_naming_the_person_is_never_sent_and_dead_letters_are_scrubbed(database: Database) -> None:
    emails = Emails(database, Outbox("integrations", OUTBOX), connections=None)  # type: ignore[arg-type]
    # Non-ASCII text is sent quoted-printable or base64: the name is not in the stored bytes as such.
    naming = queue(emails, database, "naming", "accounts@acme.example.com", "Zoë Brûlé rang about it. " * 20)
    other = queue(emails, database, "other", "accounts@acme.example.com", "Nothing personal here.")
    with database.transaction() as session:
        assert "Zoë".encode() not in session.get(EmailDeliveryRow, naming).raw  # type: ignore[union-attr]
        add_dead_letter(
            session,
            "T1",
            "CONN",
            "odoo.partners",
            "partner-7",
            json.dumps({"name": "Zoë Brûlé", "email": "zoe.brule@example.org"}).encode(),
            "ValueError: bad phone for zoe.brule@example.org",
        )
        add_dead_letter(session, "T1", "CONN", "odoo.partners", "partner-8", b'{"name": "Max"}', "ValueError: x")

    with database.transaction() as session:
        counts = privacy.erase(session, "T1", "C1", PERSON)
    assert counts == {"emailDeliveries": 1, "webhookDeliveries": 0, "syncDeadLetters": 1}

    with database.transaction() as session:
        erased = session.get(EmailDeliveryRow, naming)
        kept = session.get(EmailDeliveryRow, other)
        assert erased is not None and kept is not None
        assert (erased.status, erased.raw, erased.error) == ("FAILED", b"", privacy.ERASED_BEFORE_SENDING)
        assert (kept.status, kept.error) == ("QUEUED", "") and b"Nothing personal" in kept.raw
        letters = {row.external_id: row for row in session.scalars(sa.select(DeadLetterRow))}
    assert b"Zo" not in letters["partner-7"].payload and b"zoe.brule" not in letters["partner-7"].payload
    assert json.loads(letters["partner-7"].payload) == {"name": "[erased]", "email": "[erased]"}
    assert letters["partner-7"].error == "ValueError: bad phone for [erased]"
    assert letters["partner-8"].payload == b'{"name": "Max"}'
    with database.transaction() as session:  # the sender only ever picks up QUEUED deliveries
        waiting = session.scalars(sa.select(EmailDeliveryRow.id).where(EmailDeliveryRow.status == "QUEUED")).all()
    assert waiting == [other]
