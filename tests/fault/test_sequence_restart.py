"""Kill -9 the marketing process while its scheduler is part-way through a nurture sequence for
every enrolment: after a restart each enrolment gets each step exactly once (no skip, no repeat),
counted both in the step records and in the mail a real SMTP server received."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from tests.e2e.support import Api, free_port, start_distributed, stop_distributed, wait_until
from tests.mailservers import SmtpServer, self_signed

CONTACTS = 8
STEPS = [
    {"email": {}},
    {"wait": {"delay": "2s"}},
    {"email": {}},
    {"wait": {"delay": "2s"}},
    {"email": {}},
]
EMAILS = sum(1 for s in STEPS if "email" in s)


@pytest.fixture
def certificate():
    return self_signed()


@pytest.fixture
def smtp(tmp_path, certificate):
    server = SmtpServer(certificate).start(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def suite(tmp_path, databases, amqp_url, redis_server):
    env = {"CRM_SEQUENCES_POLL_SECONDS": "0.2", "CRM_SEQUENCES_CLAIM_SECONDS": "3"}
    suite = start_distributed(tmp_path, databases.template("seqrestart"), amqp_url, redis_server, env)
    yield suite
    stop_distributed(suite)


def test_a_killed_scheduler_neither_skips_nor_repeats_a_step_after_restart(suite, smtp, certificate):
    api = Api(suite.base, suite.create_tenant("Nurture")["apiKey"])
    connection = {
        "type": "SMTP",
        "displayName": "Outbound",
        "host": "localhost",
        "port": smtp.port,
        "security": "STARTTLS",
        "username": smtp.username,
        "password": smtp.password,
        "fromAddress": "news@acme.example.com",
        "caCertificate": certificate.cert_pem,
    }
    assert api.post("/v1/connections", json=connection).status_code == 200
    template = api.post("/v1/templates", json={"name": "Step", "subject": "Hi", "textBody": "Hello"}).json()
    contacts = []
    for n in range(CONTACTS):
        made = api.post("/v1/contacts", json={"givenName": f"N{n}", "email": f"n{n}@nurture.example"})
        assert made.status_code == 200, made.text
        contacts.append(made.json()["id"])
    for contact_id in contacts:
        path = f"/v1/audienceMembers/{contact_id}/subscriptions"
        wait_until(lambda p=path: api.get(p).status_code == 200, 30, "the audience projection")
        decision = {"channel": "email", "status": "SUBSCRIBED", "legalBasis": "CONSENT", "source": "signup form"}
        assert api.post(path, json=decision).status_code == 200
    segment = api.post("/v1/segments", json={"name": "Nurtured", "kind": "STATIC"}).json()
    steps = [{"email": {"templateId": template["id"]}} if "email" in s else s for s in STEPS]
    sequence = api.post("/v1/sequences", json={"name": "Nurture", "segmentId": segment["id"], "steps": steps})
    assert sequence.status_code == 200, sequence.text
    sequence_id = sequence.json()["id"]
    assert api.post(f"/v1/sequences/{sequence_id}:activate", json={}).status_code == 200
    # Entering the segment enrols them.
    added = api.post(f"/v1/segments/{segment['id']}:addMembers", json={"contactIds": contacts})
    assert added.status_code == 200, added.text

    wait_until(lambda: len(smtp.received) > CONTACTS, 60, "the second emails to start going out")
    suite.processes["marketing"].kill()  # SIGKILL: no graceful shutdown, mid-sequence
    suite.processes.pop("marketing").wait()
    mails_at_kill = len(smtp.received)
    time.sleep(1)
    suite.start("marketing", extra_env={"CRM_METRICS_PORT": str(free_port())})

    def enrolments() -> list[dict]:
        response = api.get(f"/v1/sequences/{sequence_id}/enrolments", params={"pageSize": 100})
        return response.json().get("enrolments", []) if response.status_code == 200 else []

    wait_until(lambda: [e["status"] for e in enrolments()] == ["COMPLETED"] * CONTACTS, 90, "every enrolment to end")
    print(f"\nFAULT marketing kill -9 mid-sequence: mails at kill={mails_at_kill} of {CONTACTS * EMAILS}")
    assert mails_at_kill < CONTACTS * EMAILS, "the process died with steps still to run"
    for enrolment in enrolments():
        runs = enrolment["stepRuns"]
        assert [r["step"] for r in runs] == [1, 2, 3, 4, 5], enrolment
        assert [r["outcome"] for r in runs] == ["SENT", "WAITED", "SENT", "WAITED", "SENT"], enrolment
        assert len({r["messageId"] for r in runs if r["kind"] == "email"}) == EMAILS
    received = Counter(rcpt for mail in smtp.received for rcpt in mail.rcpt_tos)
    assert received == {f"n{n}@nurture.example": EMAILS for n in range(CONTACTS)}
