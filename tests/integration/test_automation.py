"""Automation rules on PostgreSQL with the real contacts service over gRPC and a real SMTP server:
redeliveries plan nothing twice, the causation chain reaches the called service's outbox, a
service that does not answer is retried, and a run repeated after a crash repeats no side effect."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa
from crm.contacts.v1 import activities_pb2, activities_pb2_grpc, contacts_pb2, contacts_pb2_grpc
from crm.contacts.v1 import events_pb2 as contact_events
from crm.events.v1.envelope_pb2 import Envelope
from crm.integrations.v1 import connections_pb2, connections_pb2_grpc
from crm.support.v1 import agents_pb2, agents_pb2_grpc, tickets_pb2, tickets_pb2_grpc

from crmkit import causation
from crmkit.config import Settings
from crmkit.grpcclient import service_channel
from crmkit.grpcserver import RunningServer, start_server
from crmkit.secretbox import new_key
from crmkit.tokens import Principal, acting_as
from services.contacts.module import build as build_contacts
from services.contacts.store import OUTBOX as CONTACTS_OUTBOX
from services.integrations.automation import domain as rules
from services.integrations.automation import store
from services.integrations.automation.domain import Action, RuleFields
from services.integrations.automation.events import CONSUMER
from services.integrations.automation.usecases import Automation, AutomationWorker, plan_executions
from services.integrations.module import build
from services.support.module import build as build_support
from services.support.store import OUTBOX as SUPPORT_OUTBOX
from tests.e2e.support import free_port
from tests.integration.events_support import contact_created, wait_until
from tests.integration.support_helpers import TOKENS, as_
from tests.mailservers import Certificate, SmtpServer, self_signed

ADMIN = Principal("TENANT_A", "apikey:admin", frozenset({"admin"}))


class Suite:
    """Contacts (gRPC, PostgreSQL) and integrations (module, PostgreSQL) wired as in production."""

    def __init__(self, migrated, contacts_port: int, keys: str) -> None:  # type: ignore[no-untyped-def]
        self.contacts_db = migrated("contacts")
        self.support_db = migrated("support")
        self.support_port = free_port()
        self.contacts_port = contacts_port
        self.contacts_server: RunningServer | None = None
        self.database = migrated("integrations")
        self.module = build(
            Settings.from_env(
                {
                    "CRM_INTEGRATIONS_DATABASE_URL": self.database.url,
                    "CRM_CONTACTS_ADDR": f"127.0.0.1:{contacts_port}",
                    "CRM_SUPPORT_ADDR": f"127.0.0.1:{self.support_port}",
                    "CRM_GRPC_DEADLINE_SECONDS": "2",
                    "CRM_SECRET_KEYS": keys,
                }
            )
        )
        self.module.tokens = TOKENS
        self.automation = Automation(self.module.database)
        [self.consumer] = [c for c in self.module.consumers if c.name == CONSUMER]
        [worker] = [w for name, w in self.module.workers if name == "automation"]
        self.worker: AutomationWorker = worker.__self__  # type: ignore[attr-defined]
        self.integrations = start_server(
            "integrations", self.module.registrations, self.module.grpc_services, "127.0.0.1:0", TOKENS
        )
        self.channel = grpc.insecure_channel(f"127.0.0.1:{contacts_port}")
        self.contacts = contacts_pb2_grpc.ContactsServiceStub(self.channel)
        self.activities = activities_pb2_grpc.ActivitiesServiceStub(self.channel)

    def start_contacts(self) -> None:
        module = build_contacts(Settings.from_env({"CRM_CONTACTS_DATABASE_URL": self.contacts_db.url}))
        self.contacts_module = module
        self.contacts_server = start_server(
            "contacts", module.registrations, module.grpc_services, f"127.0.0.1:{self.contacts_port}", TOKENS
        )

    def stop(self) -> None:
        self.channel.close()
        self.worker.performer.close()
        self.integrations.stop(0)
        if self.contacts_server is not None:
            self.contacts_server.stop(0)
        self.module.database.dispose()

    def contact(self, name: str) -> contacts_pb2.Contact:
        request = contacts_pb2.CreateContactRequest(
            contact=contacts_pb2.Contact(given_name=name, email=f"{name.lower()}@acme.example")
        )
        return self.contacts.CreateContact(request, metadata=as_(ADMIN), timeout=5)

    def deliver(self, tenant: str, contact_id: str, name: str) -> bytes:
        body = contact_created(tenant, contact_id, name).body
        self.consumer.handle(body, 0)
        return body

    def executions(self, rule_id: str) -> list[rules.Execution]:
        found, _ = self.automation.executions(ADMIN, rule_id, 100, "")
        return found

    def tasks(self, contact_id: str) -> list[activities_pb2.Activity]:
        request = activities_pb2.ListActivitiesRequest(filter=f'kind = TASK AND contactIds : "{contact_id}"')
        return list(self.activities.ListActivities(request, metadata=as_(ADMIN), timeout=5).activities)


@pytest.fixture(scope="module")
def certificate() -> Certificate:
    return self_signed()


@pytest.fixture
def smtp(certificate: Certificate, tmp_path: Path) -> Iterator[SmtpServer]:
    server = SmtpServer(certificate).start(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def suite(migrated) -> Iterator[Suite]:  # type: ignore[no-untyped-def]
    running = Suite(migrated, free_port(), new_key())
    yield running
    running.stop()


def due_now(suite: Suite, execution: rules.Execution) -> None:
    with suite.database.transaction() as session:
        store.save_execution(session, replace(execution, next_attempt_time=dt.datetime.now(dt.UTC)))


def test_a_redelivered_event_plans_each_rule_once(suite: Suite) -> None:
    rule = suite.automation.create(
        ADMIN,
        RuleFields("Tag", "", "contact.created", 'givenName = "Ada"', (Action("assign_owner", owner_id="rep-1"),)),
    )
    suite.automation.create(
        ADMIN,
        RuleFields("Not Ada", "", "contact.created", 'givenName = "Bob"', (Action("assign_owner", owner_id="x"),)),
    )
    body = suite.deliver("TENANT_A", "C1", "Ada")
    assert suite.consumer.handle(body, 1).verdict.value == "ack"  # the broker delivered it again
    envelope = Envelope.FromString(body)
    # Even past the inbox (another consumer's copy, an inbox row gone), the rule's row is unique.
    message = contact_events.ContactCreated.FromString(envelope.data)
    with suite.database.transaction() as session:
        assert plan_executions(session, envelope, message, dt.datetime.now(dt.UTC)) == 0
    [execution] = suite.executions(rule.id)
    assert (execution.state, execution.subject_id, execution.event_id) == (rules.PENDING, "C1", envelope.id)
    assert suite.automation.executions(ADMIN, None, 100, "")[0] == [execution], "only the matching rule"
    other_tenant = Principal("TENANT_B", "apikey:b", frozenset({"admin"}))
    assert suite.automation.executions(other_tenant, None, 100, "")[0] == []


def test_the_chain_travels_in_the_call_into_the_called_services_outbox(suite: Suite) -> None:
    suite.start_contacts()
    ada = suite.contact("Ada")
    channel = service_channel(f"127.0.0.1:{suite.contacts_port}", 5)
    try:
        stub = contacts_pb2_grpc.ContactsServiceStub(channel)
        patch = contacts_pb2.UpdateContactRequest(id=ada.id, contact=contacts_pb2.Contact(title="CTO"))
        patch.update_mask.paths.append("title")
        with (
            acting_as(TOKENS, Principal("TENANT_A", "automation:R2", frozenset({"admin"}))),
            causation.bound(("R1", "R2")),
        ):
            stub.UpdateContact(patch)
        plain = contacts_pb2.UpdateContactRequest(id=ada.id, contact=contacts_pb2.Contact(title="CEO"))
        plain.update_mask.paths.append("title")
        with acting_as(TOKENS, ADMIN):
            stub.UpdateContact(plain)
    finally:
        channel.close()
    with suite.contacts_db.transaction() as session:
        payloads = session.execute(sa.select(CONTACTS_OUTBOX.c.payload).order_by(CONTACTS_OUTBOX.c.id)).scalars()
        envelopes = [Envelope.FromString(p) for p in payloads]
    chains = [list(e.causation_chain) for e in envelopes if e.type == "crm.contacts.v1.ContactUpdated"]
    assert chains == [["R1", "R2"], []]
    assert all(not e.causation_chain for e in envelopes if e.type == "crm.contacts.v1.ContactCreated")


def test_a_service_that_does_not_answer_is_retried_and_a_repeated_run_repeats_no_side_effect(suite: Suite) -> None:
    rule = suite.automation.create(
        ADMIN,
        RuleFields(
            "Welcome",
            "",
            "contact.created",
            "",
            (
                Action("create_task", subject="Call {{ record.givenName }}"),
                Action("update_field", field="title", value="Prospect"),
            ),
        ),
    )
    # Contacts is down: the first action cannot be done, the execution waits for a retry.
    suite.deliver("TENANT_A", "C-missing", "Nobody")
    assert suite.worker.tick() == 1
    [waiting] = suite.executions(rule.id)
    assert waiting.state == rules.PENDING and waiting.attempt_count == 1 and "UNAVAILABLE" in waiting.reason
    assert [a.outcome for a in waiting.actions] == [rules.PENDING, rules.PENDING]
    assert waiting.next_attempt_time is not None and waiting.next_attempt_time > dt.datetime.now(dt.UTC)

    # Contacts is back: the retry runs; a contact that does not exist fails the task for good.
    suite.start_contacts()

    def retried() -> bool:  # the channel may still be backing off from the outage: retry until it answers
        due_now(suite, suite.executions(rule.id)[0])
        suite.worker.tick()
        return suite.executions(rule.id)[0].state != rules.PENDING

    wait_until(retried, 20, "the retry")
    [failed] = suite.executions(rule.id)
    assert failed.state == rules.FAILED and failed.attempt_count >= 2 and failed.finish_time is not None
    assert failed.actions[0].outcome == rules.FAILED and "INVALID_ARGUMENT" in failed.actions[0].error
    assert failed.actions[1].outcome == rules.FAILED and "NOT_FOUND" in failed.actions[1].error
    assert failed.reason.startswith("create_task: ")

    ada = suite.contact("Ada")
    suite.deliver("TENANT_A", ada.id, "Ada")
    assert suite.worker.tick() == 1
    done = suite.executions(rule.id)[0]
    assert done.subject_id == ada.id and done.state == rules.SUCCEEDED, done
    assert [a.outcome for a in done.actions] == [rules.SUCCEEDED, rules.SUCCEEDED] and done.duration_ms >= 0
    [task] = suite.tasks(ada.id)
    assert task.subject == "Call Ada"
    assert suite.contacts.GetContact(contacts_pb2.GetContactRequest(id=ada.id), metadata=as_(ADMIN)).title == "Prospect"

    # A worker that died after doing the actions, before recording them: the run starts over.
    with suite.database.transaction() as session:
        store.save_execution(
            session,
            rules.Execution(
                **{
                    **done.__dict__,
                    "state": rules.PENDING,
                    "actions": tuple(rules.ActionResult(a.type) for a in done.actions),
                    "next_attempt_time": dt.datetime.now(dt.UTC),
                }
            ),
        )
    assert suite.worker.tick() == 1
    again = suite.executions(rule.id)[0]
    assert again.state == rules.SUCCEEDED and again.actions[0].result_ref == f"activities/{task.id}"
    assert len(suite.tasks(ada.id)) == 1, "the task was found, not made twice"


def test_an_execution_runs_the_actions_its_rule_had_when_the_event_came(suite: Suite) -> None:
    rule = suite.automation.create(
        ADMIN, RuleFields("Tag", "", "contact.created", "", (Action("update_field", field="title", value="Prospect"),))
    )
    suite.start_contacts()
    ada = suite.contact("Ada")
    suite.deliver("TENANT_A", ada.id, "Ada")  # planned now, run by the next tick
    # The rule is edited in between: the planned execution still does what the rule said then.
    edited = RuleFields("Tag", "", "contact.created", "", (Action("update_field", field="title", value="Customer"),))
    suite.automation.update(ADMIN, rule.id, edited, ["actions"], rule.etag)
    assert suite.worker.tick() == 1
    [done] = suite.executions(rule.id)
    assert done.state == rules.SUCCEEDED and done.actions[0].action["value"] == "Prospect", done
    assert suite.contacts.GetContact(contacts_pb2.GetContactRequest(id=ada.id), metadata=as_(ADMIN)).title == "Prospect"

    bob = suite.contact("Bob")
    suite.deliver("TENANT_A", bob.id, "Bob")  # an event after the edit gets the edited actions
    assert suite.worker.tick() == 1
    assert suite.contacts.GetContact(contacts_pb2.GetContactRequest(id=bob.id), metadata=as_(ADMIN)).title == "Customer"


def test_a_templated_email_goes_out_once_through_the_tenants_smtp_connection(
    suite: Suite, smtp: SmtpServer, certificate: Certificate
) -> None:
    connections = connections_pb2_grpc.ConnectionsServiceStub(
        grpc.insecure_channel(f"127.0.0.1:{suite.integrations.port}")
    )
    Conn = connections_pb2.Connection
    connection = Conn(
        type=Conn.SMTP,
        display_name="Outbound",
        host="localhost",
        port=smtp.port,
        security=Conn.STARTTLS,
        username=smtp.username,
        password=smtp.password,
        from_address="hello@acme.example",
        ca_certificate=certificate.cert_pem,
    )
    connections.CreateConnection(connections_pb2.CreateConnectionRequest(connection=connection), metadata=as_(ADMIN))
    rule = suite.automation.create(
        ADMIN,
        RuleFields(
            "Welcome mail",
            "",
            "contact.created",
            "",
            (
                Action(
                    "send_email",
                    subject="Welcome, {{ record.givenName }}",
                    text_body="Hello {{ record.givenName | default('there') }}",
                    html_body="<p>Hi {{ '<b>' ~ record.givenName }}</p>",
                ),
            ),
        ),
    )
    suite.deliver("TENANT_A", "C7", "Ada")
    assert suite.worker.tick() == 1
    [execution] = suite.executions(rule.id)
    assert execution.state == rules.SUCCEEDED, execution
    assert execution.actions[0].result_ref.startswith("emailDeliveries/")
    [mail] = smtp.received
    assert mail.rcpt_tos == ["ada@example.com"]
    message = email.message_from_bytes(mail.data, policy=email.policy.default)
    assert message["Subject"] == "Welcome, Ada" and message["From"] == "hello@acme.example"
    bodies = {part.get_content_type(): part.get_content() for part in message.walk() if not part.is_multipart()}
    assert bodies["text/plain"].strip() == "Hello Ada"
    assert "<p>Hi &lt;b&gt;Ada</p>" in bodies["text/html"], "HTML parts are autoescaped"

    with suite.database.transaction() as session:
        store.save_execution(
            session,
            rules.Execution(
                **{
                    **execution.__dict__,
                    "state": rules.PENDING,
                    "actions": (rules.ActionResult("send_email"),),
                    "next_attempt_time": dt.datetime.now(dt.UTC),
                }
            ),
        )
    assert suite.worker.tick() == 1
    assert len(smtp.received) == 1, "the idempotency key sent nothing twice"


def test_a_ticket_rule_assigns_the_ticket_and_raises_its_priority_through_support(suite: Suite) -> None:
    module = build_support(Settings.from_env({"CRM_SUPPORT_DATABASE_URL": suite.support_db.url}))
    server = start_server(
        "support", module.registrations, module.grpc_services, f"127.0.0.1:{suite.support_port}", TOKENS
    )
    channel = grpc.insecure_channel(f"127.0.0.1:{suite.support_port}")
    try:
        agents = agents_pb2_grpc.AgentsServiceStub(channel)
        tickets = tickets_pb2_grpc.TicketsServiceStub(channel)
        group = agents.CreateGroup(
            agents_pb2.CreateGroupRequest(group=agents_pb2.Group(name="VIP")), metadata=as_(ADMIN)
        )
        ann = agents.CreateAgent(
            agents_pb2.CreateAgentRequest(agent=agents_pb2.Agent(display_name="Ann", capacity=5, group_ids=[group.id])),
            metadata=as_(ADMIN),
        )
        rule = suite.automation.create(
            ADMIN,
            RuleFields(
                "VIP tickets",
                "",
                "ticket.created",
                'subject : "vip"',
                (
                    Action("assign_owner", owner_id=ann.id),
                    Action("update_field", field="priority", value="URGENT"),
                    Action("update_field", field="tags", value="vip, escalated"),
                ),
            ),
        )
        made = tickets.CreateTicket(
            tickets_pb2.CreateTicketRequest(ticket=tickets_pb2.Ticket(subject="VIP: refund", requester_id="C1")),
            metadata=as_(ADMIN),
        )
        # The event support really wrote, handed to the automation consumer as the bus would.
        with suite.support_db.transaction() as session:
            payloads = session.execute(sa.select(SUPPORT_OUTBOX.c.payload).order_by(SUPPORT_OUTBOX.c.id)).scalars()
            [created] = [p for p in payloads if Envelope.FromString(p).type == "crm.support.v1.TicketCreated"]
        suite.consumer.handle(created, 0)
        assert suite.worker.tick() == 1
        [execution] = suite.executions(rule.id)
        assert execution.state == rules.SUCCEEDED and execution.subject_id == made.id, execution
        ticket = tickets.GetTicket(tickets_pb2.GetTicketRequest(id=made.id), metadata=as_(ADMIN))
        assert ticket.assignee_id == ann.id and ticket.priority == tickets_pb2.Ticket.URGENT
        assert list(ticket.tags) == ["vip", "escalated"]
        assert any(h.actor == f"automation:{rule.id}" for h in ticket.history), "support records the rule as actor"
        with suite.support_db.transaction() as session:
            payloads = session.execute(sa.select(SUPPORT_OUTBOX.c.payload).order_by(SUPPORT_OUTBOX.c.id)).scalars()
            caused = [Envelope.FromString(p) for p in payloads]
        assert [list(e.causation_chain) for e in caused if e.type == "crm.support.v1.TicketUpdated"] == [[rule.id]] * 3
    finally:
        channel.close()
        server.stop(0)
        module.database.dispose()
