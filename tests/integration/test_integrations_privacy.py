"""Integrations' erasure on both databases: a message waiting to be sent that names the person in an
encoded body is never sent, sync dead letters lose the person's identifiers (also JSON-escaped),
and what does not mention the person stays as it was."""

from __future__ import annotations

import datetime as dt
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
from services.integrations.automation import domain as automation
from services.integrations.automation import store as automation_store
from services.integrations.connections import ERASED_MAPPING, add_dead_letter, claim_external_id, internal_id_of
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
        claim_external_id(session, "T1", "CONN", "contact", "7", "C1")  # the person's Odoo partner
        claim_external_id(session, "T1", "CONN", "contact", "8", "C2")  # somebody else's

    with database.transaction() as session:
        counts = privacy.erase(session, "T1", "C1", PERSON)
    assert counts == {
        "emailDeliveries": 1,
        "webhookDeliveries": 0,
        "syncDeadLetters": 1,
        "automationExecutions": 0,
        "invoicesPseudonymised": 0,
        "paymentsPseudonymised": 0,
        "customerMappings": 0,
        "syncMappings": 1,
    }

    with database.transaction() as session:
        erased = session.get(EmailDeliveryRow, naming)
        kept = session.get(EmailDeliveryRow, other)
        assert erased is not None and kept is not None
        assert (erased.status, erased.raw, erased.error) == ("FAILED", b"", privacy.ERASED_BEFORE_SENDING)
        assert (kept.status, kept.error) == ("QUEUED", "") and b"Nothing personal" in kept.raw
        letters = {row.external_id: row for row in session.scalars(sa.select(DeadLetterRow))}
        # The person's partner stays known, as a tombstone: Odoo's copy is never imported again.
        assert internal_id_of(session, "CONN", "contact", "7") == ERASED_MAPPING
        assert internal_id_of(session, "CONN", "contact", "8") == "C2"
    assert b"Zo" not in letters["partner-7"].payload and b"zoe.brule" not in letters["partner-7"].payload
    assert json.loads(letters["partner-7"].payload) == {"name": "[erased]", "email": "[erased]"}
    assert letters["partner-7"].error == "ValueError: bad phone for [erased]"
    assert letters["partner-8"].payload == b'{"name": "Max"}'
    with database.transaction() as session:  # the sender only ever picks up QUEUED deliveries
        waiting = session.scalars(sa.select(EmailDeliveryRow.id).where(EmailDeliveryRow.status == "QUEUED")).all()
    assert waiting == [other]


def execution(execution_id: str, subject_id: str, data: dict, state: str) -> automation.Execution:
    now = dt.datetime.now(dt.UTC)
    return automation.Execution(
        id=execution_id,
        tenant_id="T1",
        rule_id="R1",
        event_id=f"E-{execution_id}",
        event_type="contact.created",
        subject_id=subject_id,
        event_data=data,
        event_time=now,
        state=state,
        reason="",
        causation_chain=(),
        actions=(automation.ActionResult("send_email"),),
        attempt_count=0,
        next_attempt_time=now if state == automation.PENDING else None,
        create_time=now,
    )


def test_automation_executions_about_the_person_are_exported_scrubbed_and_never_run(database: Database) -> None:
    with database.transaction() as session:
        about = {"id": "C1", "givenName": "Zoë", "familyName": "Brûlé", "email": "zoe.brule@example.org"}
        automation_store.add_execution(session, execution("X1", "C1", about, automation.PENDING))
        mentioned = {"contact": {"id": "C9", "title": "assistant to Zoë Brûlé"}}
        automation_store.add_execution(session, execution("X2", "C9", mentioned, automation.SUCCEEDED))
        automation_store.add_execution(session, execution("X3", "C8", {"id": "C8", "givenName": "Max"}, "SUCCEEDED"))
    with database.transaction() as session:
        exported = privacy.export(session, "T1", "C1", PERSON)["automationExecutions"]
    assert [e["id"] for e in exported] == ["X1"] and exported[0]["eventData"]["email"] == "zoe.brule@example.org"

    with database.transaction() as session:
        assert privacy.erase(session, "T1", "C1", PERSON)["automationExecutions"] == 2
    with database.transaction() as session:
        rows = {e.id: e for e in automation_store.execution_page(session, "T1", None, None, 10)}
    assert rows["X1"].state == automation.SKIPPED and rows["X1"].reason == privacy.ERASED_BEFORE_RUNNING
    assert rows["X1"].event_data == {"id": "C1", "givenName": "[erased]", "familyName": "[erased]", "email": "[erased]"}
    assert rows["X2"].event_data == {"contact": {"id": "C9", "title": "assistant to [erased]"}}
    assert rows["X2"].state == automation.SUCCEEDED
    assert rows["X3"].event_data == {"id": "C8", "givenName": "Max"}
