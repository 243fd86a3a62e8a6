"""What an SRE sees: one trace across every hop, JSON logs free of personal data, dead letters
inspected and replayed from the command line, and queue gauges."""

from __future__ import annotations

import json
import secrets

import pika
import pytest

from tests.e2e.otlp import OtlpReceiver
from tests.e2e.support import CONSUMER, Api, distributed, metric, wait_until

pytestmark = pytest.mark.e2e
SERVER, CLIENT, PRODUCER, CONSUMER_KIND = 2, 3, 4, 5  # OTLP SpanKind values
PERSON = {
    "givenName": "Zebulon",
    "familyName": "Quixotewright",
    "email": "zebulon.q@example.org",
    "phone": "+1 415 555 0199",
}
PERSONAL_STRINGS = ["Zebulon", "Quixotewright", "zebulon.q", "555 0199", "5550199", "555-0199"]


@pytest.fixture(scope="module")
def receiver():
    receiver = OtlpReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def suite(tmp_path_factory, databases, amqp_url, redis_server, receiver):
    env = {**receiver.env(), "CRM_LOG_LEVEL": "DEBUG", "CRM_STATS_INTERVAL_SECONDS": "0.5"}
    workdir = tmp_path_factory.mktemp("observed")
    with distributed(workdir, databases.template("obs"), amqp_url, redis_server, env) as suite:
        yield suite


@pytest.fixture(scope="module")
def tenant(suite):
    return suite.create_tenant("Observed")


@pytest.fixture(scope="module")
def api(suite, tenant):
    return Api(suite.base, tenant["apiKey"])


@pytest.fixture(scope="module")
def traced_contact(api, receiver):
    """A contact created under a trace the test started, as a partner's own tracing would."""
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    response = api.post("/v1/contacts", json=PERSON, headers={"traceparent": f"00-{trace_id}-{parent_id}-01"})
    assert response.status_code == 200, response.text
    contact = response.json()
    wait_until(lambda: api.get(f"/v1/audienceMembers/{contact['id']}").status_code == 200, what="the projection")
    # Each process exports on its own schedule: wait until every hop's span has arrived.
    wait_until(
        lambda: (
            {(s.service, s.kind) for s in receiver.trace(trace_id)}
            >= {("crm-gateway", SERVER), ("crm-gateway", CLIENT), ("crm-contacts", SERVER), ("crm-relay", PRODUCER)}
            | {("crm-marketing", CONSUMER_KIND)}
        ),
        what="every hop's span to be exported",
    )
    return contact, trace_id, parent_id


def test_one_trace_follows_a_request_from_the_gateway_to_the_consumer(traced_contact, receiver, tenant):
    _, trace_id, parent_id = traced_contact
    spans = receiver.trace(trace_id)
    by_id = {s.span_id: s for s in spans}

    def parent_of(span):
        assert span.parent_span_id in by_id, f"{span.name} ({span.service}) has no exported parent"
        return by_id[span.parent_span_id]

    # Marketing's projection (the webhook fan-out in integrations consumes the same event too).
    consumer = next(s for s in spans if s.kind == CONSUMER_KIND and s.service == "crm-marketing")
    assert consumer.name == f"{CONSUMER} process"
    producer = parent_of(consumer)
    assert (producer.service, producer.kind) == ("crm-relay", PRODUCER)
    assert producer.name == "publish crm.contacts.v1.ContactCreated"
    grpc_server = parent_of(producer)
    assert (grpc_server.service, grpc_server.kind) == ("crm-contacts", SERVER)
    assert "CreateContact" in grpc_server.name
    grpc_client = parent_of(grpc_server)
    assert (grpc_client.service, grpc_client.kind) == ("crm-gateway", CLIENT)
    http_server = parent_of(grpc_client)
    assert (http_server.service, http_server.kind, http_server.name) == ("crm-gateway", SERVER, "POST /v1/contacts")
    assert http_server.parent_span_id == parent_id, "the caller's traceparent is continued"
    for span in (http_server, grpc_server, producer, consumer):
        assert span.attributes.get("crm.tenant_id") == tenant["tenantId"], span.name


def test_spans_carry_no_personal_data(traced_contact, receiver):
    exported = json.dumps([s.attributes for s in receiver.all_spans()] + [s.name for s in receiver.all_spans()])
    for text in PERSONAL_STRINGS:
        assert text.lower() not in exported.lower()


def test_every_request_is_one_json_log_line_with_trace_request_and_tenant(suite, traced_contact, tenant):
    _, trace_id, _ = traced_contact
    lines = [json.loads(line) for line in suite.log("gateway", whole=True).splitlines() if line.startswith("{")]
    [access] = [e for e in lines if e.get("route") == "/v1/contacts" and e.get("http_method") == "POST"]
    assert access["trace_id"] == trace_id and access["tenant_id"] == tenant["tenantId"]
    assert access["request_id"] and access["span_id"] and access["status"] == 200


def test_logs_never_contain_names_emails_or_phones(suite, api, traced_contact):
    contact, _, _ = traced_contact
    api.patch(f"/v1/contacts/{contact['id']}", json={"email": "not an email " + PERSON["email"]})  # a 400
    api.patch(f"/v1/contacts/{contact['id']}", json={"familyName": PERSON["familyName"] + "-Smythe"})
    api.post("/v1/contacts", json={**PERSON, "phone": "Zebulon's phone"})
    api.delete(f"/v1/contacts/{contact['id']}")
    wait_until(lambda: api.get(f"/v1/audienceMembers/{contact['id']}").status_code == 404, what="the deletion")
    evidence = {  # each process must have logged the work, or the check below would prove nothing
        "gateway": "POST /v1/contacts",
        "contacts": "UpdateContact",
        "marketing": f"{CONSUMER}: processed",
        "relay": "published",
    }
    for name, work in evidence.items():
        text = suite.log(name, whole=True)
        assert work in text, f"{name} did not log {work!r}"
        for line in text.splitlines():
            assert line.startswith("{"), f"{name} wrote a non-JSON log line: {line[:200]}"
        for personal in PERSONAL_STRINGS:
            assert personal.lower() not in text.lower(), f"{name} logged {personal!r}"


def test_dead_letters_are_listed_shown_and_replayed_from_the_command_line(suite):
    connection = pika.BlockingConnection(pika.URLParameters(suite.amqp_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        properties = pika.BasicProperties(message_id="poison-1", delivery_mode=2)
        channel.basic_publish("", f"{suite.prefix}.{CONSUMER}", b"\xff not a protobuf envelope", properties)
    finally:
        connection.close()
    wait_until(lambda: "poison-1" in suite.crm("dlq", "list", CONSUMER).stdout, what="the dead letter")
    listed = [json.loads(line) for line in suite.crm("dlq", "list", CONSUMER).stdout.splitlines()]
    # Dead-lettering is at-least-once (a connection lost between the DLQ publish and the ack parks a
    # delivery twice), so every letter must be the poison, and there must be at least one.
    assert listed and all(x["id"] == "poison-1" and "undecodable" in x["error"] for x in listed), listed
    shown = json.loads(suite.crm("dlq", "show", CONSUMER, "poison-1").stdout)
    assert shown["body"].startswith("undecodable")
    assert suite.crm("dlq", "show", CONSUMER, "no-such-id", check=False).returncode == 1
    wait_until(
        lambda: metric(suite.metrics["marketing"], "crm_consumer_dead_letters", {"consumer": CONSUMER}) >= 1,
        what="the dead-letter gauge",
    )
    dead_before = metric(
        suite.metrics["marketing"], "crm_events_consumed_total", {"consumer": CONSUMER, "outcome": "dead_letter"}
    )
    replayed = json.loads(suite.crm("dlq", "replay", CONSUMER).stdout)["replayed"]
    assert replayed >= len(listed), suite.log("marketing")
    wait_until(  # still poison: it went round once more and is parked again
        lambda: (
            metric(
                suite.metrics["marketing"],
                "crm_events_consumed_total",
                {"consumer": CONSUMER, "outcome": "dead_letter"},
            )
            > dead_before
        ),
        what="the replayed delivery",
    )


def test_every_process_exports_its_metrics(suite, traced_contact):
    expected = {
        "gateway": "crm_http_request_duration_seconds_bucket",
        "contacts": "crm_grpc_server_handling_seconds_bucket",
        "relay": "crm_outbox_backlog",
        "marketing": "crm_consumer_queue_depth",
    }
    import requests

    for process, name in expected.items():
        assert name in requests.get(suite.metrics[process], timeout=5).text, process
    assert metric(suite.metrics["relay"], "crm_events_published_total", {"source": "contacts"}) >= 1
