"""Partner webhooks on real PostgreSQL and RabbitMQ, delivered to a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import threading

import grpc
import pytest
import sqlalchemy as sa
from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from crm.events.v1.envelope_pb2 import Envelope
from crm.integrations.v1 import webhooks_pb2 as pb
from crm.integrations.v1 import webhooks_pb2_grpc
from crm.sales.v1 import events_pb2 as sales_events
from prometheus_client import REGISTRY

from crmkit.config import Settings
from crmkit.events.rabbitmq import RabbitBus
from crmkit.events.relay import OutboxRelay
from crmkit.events.transport import OutgoingMessage
from crmkit.grpcserver import start_server
from crmkit.ids import new_id
from crmkit.tokens import Principal
from services.contacts.module import build as build_contacts
from services.contacts.store import OUTBOX as CONTACTS_OUTBOX
from services.integrations.module import build
from services.integrations.store import INBOX
from services.integrations.webhooks import signing
from services.integrations.webhooks.events import CONSUMER
from services.integrations.webhooks.store import WebhookRow
from tests.integration.events_support import RunningConsumer, contact_created, wait_until
from tests.integration.support_helpers import TOKENS, as_, code_of, violations
from tests.webhook_receiver import Receiver

SCOPES = frozenset({"webhooks:read", "webhooks:write", "contacts:read", "contacts:write", "support:read"})
ADMIN_A = Principal("TENANT_A", "apikey:a", SCOPES)
ADMIN_B = Principal("TENANT_B", "apikey:b", SCOPES)
CONTACTS_ONLY_A = Principal("TENANT_A", "apikey:c", frozenset({"webhooks:write", "contacts:read"}))
ENV = {
    "CRM_WEBHOOKS_ALLOW_LOOPBACK": "true",
    "CRM_WEBHOOKS_RETRY_BASE_SECONDS": "0.05",
    "CRM_WEBHOOKS_POLL_SECONDS": "0.05",
    "CRM_WEBHOOKS_MAX_ATTEMPTS": "5",
}


class Running:
    def __init__(self, migrated, amqp_url: str, amqp_prefix: str) -> None:
        self.database = migrated("integrations")
        self.module = build(Settings.from_env({"CRM_INTEGRATIONS_DATABASE_URL": self.database.url, **ENV}))
        self.server = start_server(
            "integrations", self.module.registrations, self.module.grpc_services, "127.0.0.1:0", TOKENS
        )
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.server.port}")
        self.stub = webhooks_pb2_grpc.WebhooksServiceStub(self.channel)
        self.bus = RabbitBus(amqp_url, amqp_prefix, retry_delays_ms=(50, 100, 200), prefetch=8)
        [self.consumer] = [c for c in self.module.consumers if c.name == CONSUMER]
        self.bus.declare(self.consumer.subscription)
        self.consuming = RunningConsumer(self.bus, self.consumer.subscription, self.consumer.handle_batch)
        self.publisher = self.bus.publisher()
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=work, args=(self.stop,), daemon=True) for _, work in self.module.workers
        ]
        for thread in self.threads:
            thread.start()

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)
        self.consuming.close()
        self.publisher.close()
        self.channel.close()
        self.server.stop(0)
        self.module.database.dispose()

    def create(self, url: str, types: list[str], principal: Principal = ADMIN_A) -> pb.Webhook:
        request = pb.CreateWebhookRequest(webhook=pb.Webhook(url=url, event_types=types))
        return self.stub.CreateWebhook(request, metadata=as_(principal), timeout=5)

    def get(self, webhook_id: str, principal: Principal = ADMIN_A) -> pb.Webhook:
        return self.stub.GetWebhook(pb.GetWebhookRequest(id=webhook_id), metadata=as_(principal), timeout=5)

    def deliveries(self, webhook_id: str) -> list[pb.WebhookDelivery]:
        request = pb.ListWebhookDeliveriesRequest(webhook_id=webhook_id)
        return list(self.stub.ListWebhookDeliveries(request, metadata=as_(ADMIN_A), timeout=5).deliveries)

    def publish_contact(self, tenant: str, contact_id: str, name: str = "Ada") -> None:
        self.publisher.publish([contact_created(tenant, contact_id, name)])

    def consumed(self) -> int:
        with self.database.transaction() as session:
            return session.execute(
                sa.select(sa.func.count()).where(INBOX.c.consumer == self.consumer.name)
            ).scalar_one()


@pytest.fixture
def receiver():
    running = Receiver().start()
    yield running
    running.stop()


@pytest.fixture
def service(migrated, amqp_url, amqp_prefix):
    running = Running(migrated, amqp_url, amqp_prefix)
    yield running
    running.close()


def verified(secret: str, request) -> bool:
    headers = request.headers
    timestamp = int(headers["webhook-timestamp"])
    return signing.verify(secret, headers["webhook-id"], timestamp, request.body, headers["webhook-signature"])


def test_a_contact_created_through_the_contacts_service_reaches_the_receiver_signed(service, receiver, migrated):
    contacts_db = migrated("contacts")
    contacts = build_contacts(Settings.from_env({"CRM_CONTACTS_DATABASE_URL": contacts_db.url}))
    server = start_server("contacts", contacts.registrations, contacts.grpc_services, "127.0.0.1:0", TOKENS)
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        subscribed = service.create(receiver.url, ["contact.created"])
        tickets_only = service.create(receiver.url, ["ticket.*"])
        assert subscribed.secret.startswith("whsec_") and subscribed.state == pb.Webhook.ACTIVE
        stub = contacts_pb2_grpc.ContactsServiceStub(channel)
        request = contacts_pb2.CreateContactRequest(
            contact=contacts_pb2.Contact(given_name="Grace", family_name="Hopper")
        )
        contact = stub.CreateContact(request, metadata=as_(ADMIN_A), timeout=5)
        relay = OutboxRelay(contacts_db, CONTACTS_OUTBOX, service.bus.publisher(), source="contacts")
        assert relay.publish_batch() == 1

        [received] = receiver.wait_for(1)
    finally:
        channel.close()
        server.stop(0)
        contacts.database.dispose()
    assert verified(subscribed.secret, received)
    body = received.json
    assert (body["type"], body["tenantId"], body["id"]) == (
        "contact.created",
        "TENANT_A",
        received.headers["webhook-id"],
    )
    assert body["data"]["id"] == contact.id and body["data"]["givenName"] == "Grace"
    wait_until(lambda: [d.state for d in service.deliveries(subscribed.id)] == [pb.WebhookDelivery.SUCCEEDED])
    [delivery] = service.deliveries(subscribed.id)
    assert [(a.number, a.status_code) for a in delivery.attempts] == [(1, 200)]
    assert delivery.attempts[0].response_body == "answered 200"
    # The filter kept the contact event from the ticket subscription.
    assert service.deliveries(tickets_only.id) == []
    # The secret is shown once, and rests sealed.
    assert service.get(subscribed.id).secret == ""
    with service.database.transaction() as session:
        sealed = session.scalars(sa.select(WebhookRow.secret_sealed).where(WebhookRow.id == subscribed.id)).one()
    assert subscribed.secret not in sealed and subscribed.secret[6:] not in sealed


def test_failures_are_retried_with_the_same_id_until_the_endpoint_answers(service, receiver):
    webhook = service.create(receiver.url, ["contact.*"])
    receiver.answer(500, 503)
    service.publish_contact("TENANT_A", "C1")
    first, second, third = receiver.wait_for(3)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == third.headers["webhook-id"]
    assert all(verified(webhook.secret, r) for r in (first, second, third))
    wait_until(lambda: [d.state for d in service.deliveries(webhook.id)] == [pb.WebhookDelivery.SUCCEEDED])
    [delivery] = service.deliveries(webhook.id)
    assert [a.status_code for a in delivery.attempts] == [200, 503, 500]  # newest first
    assert delivery.attempt_count == 3 and delivery.message_id == first.headers["webhook-id"]
    assert service.get(webhook.id).state == pb.Webhook.ACTIVE


def test_410_disables_the_subscription_and_a_replay_after_enabling_resends_the_same_message(service, receiver):
    webhook = service.create(receiver.url, ["*"])
    disabled_before = REGISTRY.get_sample_value("crm_webhooks_disabled_total") or 0.0
    receiver.answer(410)
    service.publish_contact("TENANT_A", "C1")
    [gone] = receiver.wait_for(1)
    wait_until(lambda: service.get(webhook.id).state == pb.Webhook.DISABLED)
    disabled = service.get(webhook.id)
    assert "410" in disabled.disabled_reason and disabled.HasField("disable_time")
    assert REGISTRY.get_sample_value("crm_webhooks_disabled_total") == disabled_before + 1
    [delivery] = service.deliveries(webhook.id)
    assert delivery.state == pb.WebhookDelivery.FAILED
    # A disabled subscription gets no new deliveries.
    service.publish_contact("TENANT_A", "C2")
    wait_until(lambda: service.consumed() == 2, what="the second event")
    assert len(service.deliveries(webhook.id)) == 1

    replay = pb.ReplayWebhookDeliveryRequest(id=delivery.id)
    assert code_of(lambda: service.stub.ReplayWebhookDelivery(replay, metadata=as_(ADMIN_A))) == (
        grpc.StatusCode.FAILED_PRECONDITION
    )
    enabled = service.stub.EnableWebhook(pb.EnableWebhookRequest(id=webhook.id), metadata=as_(ADMIN_A))
    assert enabled.state == pb.Webhook.ACTIVE and enabled.disabled_reason == ""
    service.stub.ReplayWebhookDelivery(replay, metadata=as_(ADMIN_A))
    _, again = receiver.wait_for(2)
    assert again.headers["webhook-id"] == gone.headers["webhook-id"] and again.body == gone.body
    assert verified(webhook.secret, again)
    wait_until(lambda: service.deliveries(webhook.id)[0].state == pb.WebhookDelivery.SUCCEEDED)
    assert [a.status_code for a in service.deliveries(webhook.id)[0].attempts] == [200, 410]


def test_a_rotated_secret_signs_alongside_the_previous_one(service, receiver):
    webhook = service.create(receiver.url, ["contact.created"])
    rotate = pb.RotateWebhookSecretRequest(id=webhook.id)
    rotated = service.stub.RotateWebhookSecret(rotate, metadata=as_(ADMIN_A))
    assert rotated.secret.startswith("whsec_") and rotated.secret != webhook.secret
    assert rotated.HasField("previous_secret_expire_time")
    service.publish_contact("TENANT_A", "C1")
    [received] = receiver.wait_for(1)
    assert len(received.headers["webhook-signature"].split(" ")) == 2
    assert verified(rotated.secret, received) and verified(webhook.secret, received)

    # A leaked secret is dropped at once.
    urgent = pb.RotateWebhookSecretRequest(id=webhook.id, overlap_seconds=0)
    latest = service.stub.RotateWebhookSecret(urgent, metadata=as_(ADMIN_A))
    service.publish_contact("TENANT_A", "C2")
    _, next_one = receiver.wait_for(2)
    assert verified(latest.secret, next_one)
    assert not verified(rotated.secret, next_one) and not verified(webhook.secret, next_one)


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.5/hook",
        "https://169.254.169.254/latest",
        "http://[::ffff:192.168.0.1]/",
        "https://[fd00:ec2::254]/",
    ],
)
def test_urls_leading_to_private_or_metadata_addresses_are_refused_naming_url(service, url):
    assert violations(lambda: service.create(url, ["contact.created"])) == {"url"}
    listed = service.stub.ListWebhooks(pb.ListWebhooksRequest(), metadata=as_(ADMIN_A))
    assert list(listed.webhooks) == []


def test_an_update_is_checked_like_a_create(service, receiver):
    webhook = service.create(receiver.url, ["contact.created"])
    request = pb.UpdateWebhookRequest(
        id=webhook.id, webhook=pb.Webhook(url="http://192.168.1.10/x", event_types=["nope"])
    )
    assert violations(lambda: service.stub.UpdateWebhook(request, metadata=as_(ADMIN_A))) == {"url", "event_types[0]"}
    changed = service.stub.UpdateWebhook(
        pb.UpdateWebhookRequest(id=webhook.id, webhook=pb.Webhook(description="CRM sync", etag=webhook.etag)),
        metadata=as_(ADMIN_A),
    )
    assert changed.description == "CRM sync" and changed.url == receiver.url and changed.etag != webhook.etag
    stale = pb.UpdateWebhookRequest(id=webhook.id, webhook=pb.Webhook(description="x", etag=webhook.etag))
    assert code_of(lambda: service.stub.UpdateWebhook(stale, metadata=as_(ADMIN_A))) == grpc.StatusCode.ABORTED


def test_event_types_need_the_scope_to_read_what_they_carry(service, receiver):
    assert violations(lambda: service.create(receiver.url, ["contact.*", "ticket.*"], CONTACTS_ONLY_A)) == {
        "event_types[1]"
    }
    # `*` is everything its creator may read: a contacts-only subscriber gets contact events, never
    # tickets or deals, even though `*` matches them.
    star = service.create(receiver.url, ["*"], CONTACTS_ONLY_A)
    won = sales_events.OpportunityWon(opportunity=sales_events.OpportunitySnapshot(id="O1", name="Deal"))
    envelope = Envelope(id=new_id(), type=won.DESCRIPTOR.full_name, source="sales", tenant="TENANT_A", subject="O1")
    envelope.data = won.SerializeToString()
    envelope.time.GetCurrentTime()
    service.publisher.publish([OutgoingMessage(envelope.id, envelope.type, envelope.SerializeToString())])
    service.publish_contact("TENANT_A", "C1")
    wait_until(lambda: service.consumed() == 2, what="the deal and the contact event")
    assert [d.event_type for d in service.deliveries(star.id)] == ["contact.created"]


def test_another_tenants_subscriptions_and_events_stay_apart(service, receiver):
    webhook = service.create(receiver.url, ["*"])
    assert code_of(lambda: service.get(webhook.id, ADMIN_B)) == grpc.StatusCode.NOT_FOUND
    delete = pb.DeleteWebhookRequest(id=webhook.id)
    assert code_of(lambda: service.stub.DeleteWebhook(delete, metadata=as_(ADMIN_B))) == grpc.StatusCode.NOT_FOUND
    service.publish_contact("TENANT_B", "C9")
    service.publish_contact("TENANT_A", "C1")
    [received] = receiver.wait_for(1)
    wait_until(lambda: service.consumed() == 2, what="both events")
    assert received.json["tenantId"] == "TENANT_A" and len(service.deliveries(webhook.id)) == 1
    [delivery] = service.deliveries(webhook.id)
    get_b = pb.GetWebhookDeliveryRequest(id=delivery.id)
    assert code_of(lambda: service.stub.GetWebhookDelivery(get_b, metadata=as_(ADMIN_B))) == grpc.StatusCode.NOT_FOUND


def test_subscriptions_fan_out_and_deliveries_work_on_sqlite_too(tmp_path, receiver):
    from crmkit.migrations import upgrade
    from services.integrations.module import MIGRATIONS
    from services.integrations.webhooks.events import CONSUMER

    url = f"sqlite:///{tmp_path / 'integrations.db'}"
    upgrade(MIGRATIONS, url)
    module = build(Settings.from_env({"CRM_INTEGRATIONS_DATABASE_URL": url, **ENV}))
    server = start_server("integrations", module.registrations, module.grpc_services, "127.0.0.1:0", TOKENS)
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        stub = webhooks_pb2_grpc.WebhooksServiceStub(channel)
        request = pb.CreateWebhookRequest(webhook=pb.Webhook(url=receiver.url, event_types=["contact.created"]))
        webhook = stub.CreateWebhook(request, metadata=as_(ADMIN_A), timeout=5)
        outgoing = contact_created("TENANT_A", "C1", "Ada")
        [consumer] = [c for c in module.consumers if c.name == CONSUMER]
        assert consumer.handle(outgoing.body, 0).verdict.value == "ack"
        assert consumer.handle(outgoing.body, 0).verdict.value == "ack"  # a redelivery adds nothing
        receiver.answer(500)
        [work] = [w for name, w in module.workers if name == "webhook-deliveries"]
        stop = threading.Event()
        thread = threading.Thread(target=work, args=(stop,), daemon=True)
        thread.start()
        try:
            first, second = receiver.wait_for(2)
        finally:
            stop.set()
            thread.join(10)
        assert first.headers["webhook-id"] == second.headers["webhook-id"]
        assert verified(webhook.secret, second)
        listed = stub.ListWebhookDeliveries(
            pb.ListWebhookDeliveriesRequest(webhook_id=webhook.id), metadata=as_(ADMIN_A), timeout=5
        )
        [delivery] = listed.deliveries
        assert delivery.state == pb.WebhookDelivery.SUCCEEDED and Envelope.FromString(outgoing.body).id in (
            delivery.message_id
        )
    finally:
        channel.close()
        server.stop(0)
        module.database.dispose()
