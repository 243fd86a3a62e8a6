"""The Foundation end to end: gateway (gunicorn), contacts, marketing and the relay as separate
processes on PostgreSQL and RabbitMQ, driven over HTTP like a partner would."""

from __future__ import annotations

import pika
import pytest
import sqlalchemy as sa

from crmkit.db import Database
from tests.e2e.support import CONSUMER, Api, distributed, metric, wait_until
from tests.integration.privacy_helpers import find_personal_data

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def suite(tmp_path_factory, databases, amqp_url, redis_server):
    workdir = tmp_path_factory.mktemp("distributed")
    env = {"CRM_MAX_BODY_BYTES": "65536"}
    with distributed(workdir, databases.template("e2e"), amqp_url, redis_server, env) as suite:
        suite.marketing_metrics = suite.metrics["marketing"]
        yield suite


@pytest.fixture(scope="module")
def tenant_a(suite):
    return suite.create_tenant("Acme")


@pytest.fixture(scope="module")
def api(suite, tenant_a):
    return Api(suite.base, tenant_a["apiKey"])


def audience(api: Api, contact_id: str):
    return api.get(f"/v1/audienceMembers/{contact_id}")


def test_a_tenant_is_bootstrapped_from_the_command_line_with_a_key_shown_once(suite, tenant_a):
    assert set(tenant_a) == {"tenantId", "apiKey", "keyId"}
    assert tenant_a["apiKey"].startswith("crm_")
    with sa.create_engine(suite.contacts_db.replace("_contacts", "_gateway")).connect() as connection:
        stored = connection.execute(sa.text("SELECT key_hash FROM api_keys")).scalars().all()
    assert tenant_a["apiKey"] not in stored, "keys are stored hashed"


def test_contacts_are_created_read_listed_updated_and_deleted(api):
    created = api.post(
        "/v1/contacts", json={"givenName": "Ada", "email": "ADA@Example.com", "phone": "+1 415 555 0132"}
    )
    assert created.status_code == 200, created.text
    contact = created.json()
    assert contact["email"] == "ADA@example.com" and contact["phone"] == "+14155550132"
    assert created.headers["ETag"] == f'"{contact["etag"]}"'
    assert api.get(f"/v1/contacts/{contact['id']}").json() == contact

    patched = api.patch(f"/v1/contacts/{contact['id']}?updateMask=title", json={"title": "Countess", "givenName": "X"})
    assert patched.status_code == 200
    assert (patched.json()["title"], patched.json()["givenName"]) == ("Countess", "Ada")

    stale = api.patch(f"/v1/contacts/{contact['id']}", json={"title": "Analyst"}, headers={"If-Match": contact["etag"]})
    assert stale.status_code == 409 and stale.json()["error"]["status"] == "ABORTED"

    deleted = api.delete(f"/v1/contacts/{contact['id']}")
    assert (deleted.status_code, deleted.json()) == (200, {})
    gone = api.get(f"/v1/contacts/{contact['id']}")
    assert gone.status_code == 404
    assert gone.json()["error"] == {"code": 404, "status": "NOT_FOUND", "message": f"contact {contact['id']} not found"}


def test_lists_are_paged_with_opaque_tokens(suite):
    api = Api(suite.base, suite.create_tenant("Pager")["apiKey"])
    ids = {api.post("/v1/contacts", json={"givenName": f"P{n}"}).json()["id"] for n in range(5)}
    seen, token = [], ""
    while True:
        page = api.get("/v1/contacts", params={"pageSize": 2, "pageToken": token}).json()
        assert len(page["contacts"]) <= 2
        seen += [c["id"] for c in page["contacts"]]
        token = page["nextPageToken"]
        if not token:
            break
    assert sorted(seen) == sorted(ids)
    bad = api.get("/v1/contacts", params={"pageToken": "not-a-token"})
    assert bad.status_code == 400 and bad.json()["error"]["details"][0]["field"] == "pageToken"


def test_a_contact_event_reaches_marketing_and_shows_through_the_api(api):
    contact = api.post("/v1/contacts", json={"givenName": "Grace", "email": "grace@example.com"}).json()
    wait_until(lambda: audience(api, contact["id"]).status_code == 200, what="the ContactCreated projection")
    assert audience(api, contact["id"]).json()["email"] == "grace@example.com"
    api.patch(f"/v1/contacts/{contact['id']}", json={"givenName": "Rear Admiral Grace"})
    wait_until(lambda: audience(api, contact["id"]).json()["givenName"] == "Rear Admiral Grace", what="the update")
    api.delete(f"/v1/contacts/{contact['id']}")
    wait_until(lambda: audience(api, contact["id"]).status_code == 404, what="the deletion")


def test_a_contact_is_exported_and_erased_in_every_service_through_the_gateway(suite, api):
    """GDPR/CCPA over HTTP, RabbitMQ and every service process: the export gathers each service's
    section; the erasure completes once all confirmed, and no service database keeps the person."""
    person = ("Philippa", "Vantongeren", "philippa.v@privacy.example", "+442071838750")
    given, family, email, phone = person
    hook = {"url": "http://127.0.0.1:9/crm", "eventTypes": ["contact.created"]}  # integrations keeps each delivery
    assert api.post("/v1/webhooks", json=hook).status_code == 200
    contact = api.post(
        "/v1/contacts", json={"givenName": given, "familyName": family, "email": email, "phone": phone}
    ).json()
    assert api.post("/v1/leads", json={"givenName": given, "email": email, "phone": phone}).status_code == 200
    ticket = api.post(
        "/v1/tickets", json={"subject": f"Call {given} back", "description": phone, "requesterId": contact["id"]}
    ).json()
    reply = {"body": f"{given} {family} writes from {email}", "authorType": "REQUESTER", "authorId": contact["id"]}
    assert api.post(f"/v1/tickets/{ticket['id']}/comments", json=reply).status_code == 200
    wait_until(lambda: audience(api, contact["id"]).status_code == 200, what="the marketing projection")
    clerk = Api(
        suite.base,
        api.post("/v1/apiKeys", json={"displayName": "clerk", "roles": ["sales_manager"]}).json()["secret"],
    )
    assert clerk.post(f"/v1/contacts/{contact['id']}:erase", json={}).status_code == 403

    started = api.post(f"/v1/contacts/{contact['id']}:exportData", json={})
    assert started.status_code == 200, started.text
    assert started.json()["state"] == "PENDING" and started.json()["kind"] == "EXPORT"
    path = f"/v1/privacyRequests/{started.json()['id']}"
    wait_until(lambda: api.get(path).json()["state"] == "COMPLETED", 30, "every service's export")
    document = api.get(path).json()["document"]
    assert set(document) == {"contacts", "integrations", "marketing", "sales", "support"}
    assert [lead["email"] for lead in document["sales"]["leads"]] == [email]
    assert [d["payload"]["data"]["email"] for d in document["integrations"]["webhookDeliveries"]] == [email]

    erasure = api.post(f"/v1/contacts/{contact['id']}:erase", json={}).json()
    assert erasure["state"] == "PENDING"
    path = f"/v1/privacyRequests/{erasure['id']}"
    wait_until(lambda: api.get(path).json()["state"] == "COMPLETED", 30, "every service's erasure")
    assert all(s["done"] for s in api.get(path).json()["services"])
    assert api.get(f"/v1/contacts/{contact['id']}").status_code == 404
    assert api.get(f"/v1/tickets/{ticket['id']}").json()["subject"] == "Call [erased] back"
    template = suite.env["CRM_DATABASE_URL"]
    for service in ("contacts", "integrations", "marketing", "sales", "support", "gateway"):
        database = Database(template.replace("{service}", service))
        try:
            assert find_personal_data(database, person) == [], service
        finally:
            database.dispose()


def test_another_tenant_gets_404_for_the_first_tenants_contact(suite, api):
    contact = api.post("/v1/contacts", json={"givenName": "Secret"}).json()
    wait_until(lambda: audience(api, contact["id"]).status_code == 200, what="the projection")
    other = Api(suite.base, suite.create_tenant("Globex")["apiKey"])
    for response in (
        other.get(f"/v1/contacts/{contact['id']}"),
        other.patch(f"/v1/contacts/{contact['id']}", json={"givenName": "Mine"}),
        other.delete(f"/v1/contacts/{contact['id']}"),
        audience(other, contact["id"]),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["error"]["status"] == "NOT_FOUND"
    assert contact["id"] not in {c["id"] for c in other.get("/v1/contacts").json()["contacts"]}
    assert api.get(f"/v1/contacts/{contact['id']}").json()["givenName"] == "Secret"


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer crm_aaaaaaaaaaaa_" + "A" * 43, "Basic dXNlcjpwYXNz"])
def test_requests_without_a_valid_key_get_401_in_the_error_shape(suite, header):
    headers = {"Authorization": header} if header else {}
    response = Api(suite.base, None).get("/v1/contacts", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["status"] == "UNAUTHENTICATED"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_bad_bodies_get_clear_errors_and_write_nothing(api):
    before = len(api.get("/v1/contacts", params={"pageSize": 1000}).json()["contacts"])
    malformed = api.post("/v1/contacts", data='{"givenName": "Ada"', headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400
    assert malformed.json()["error"]["status"] == "INVALID_ARGUMENT" and "JSON" in malformed.json()["error"]["message"]
    unknown = api.post("/v1/contacts", json={"givenName": "Ada", "tenantId": "someone-else"})
    assert unknown.status_code == 400
    assert unknown.json()["error"]["details"] == [{"field": "tenantId", "description": "unknown field"}]
    invalid = api.post("/v1/contacts", json={"email": "not-an-email", "phone": "12"})
    assert {d["field"] for d in invalid.json()["error"]["details"]} == {"email", "phone"}
    not_json = api.post("/v1/contacts", data="givenName=Ada", headers={"Content-Type": "text/plain"})
    assert not_json.status_code == 415
    too_big = api.post("/v1/contacts", json={"givenName": "x" * 70000})
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == 413
    for response in (malformed, unknown, invalid, not_json, too_big):
        assert "Traceback" not in response.text and response.headers["Content-Type"] == "application/json"
    assert len(api.get("/v1/contacts", params={"pageSize": 1000}).json()["contacts"]) == before


def test_a_redelivered_event_changes_nothing(suite, api):
    contact = api.post("/v1/contacts", json={"givenName": "Ada"}).json()
    wait_until(lambda: audience(api, contact["id"]).status_code == 200, what="the projection")
    api.patch(f"/v1/contacts/{contact['id']}", json={"givenName": "Augusta"})
    wait_until(lambda: audience(api, contact["id"]).json()["givenName"] == "Augusta", what="the update")

    with sa.create_engine(suite.contacts_db).connect() as connection:
        row = connection.execute(
            sa.text("SELECT id, event_type, payload FROM outbox WHERE subject = :s ORDER BY id LIMIT 1"),
            {"s": contact["id"]},
        ).one()
    duplicates = metric(
        suite.marketing_metrics, "crm_events_consumed_total", {"consumer": CONSUMER, "outcome": "duplicate"}
    )
    connection = pika.BlockingConnection(pika.URLParameters(suite.amqp_url))
    try:  # the broker hands the very same committed ContactCreated over again
        channel = connection.channel()
        channel.confirm_delivery()
        properties = pika.BasicProperties(message_id=row.id, type=row.event_type, delivery_mode=2)
        channel.basic_publish(f"{suite.prefix}.events", row.event_type, bytes(row.payload), properties)
    finally:
        connection.close()
    wait_until(
        lambda: (
            metric(suite.marketing_metrics, "crm_events_consumed_total", {"consumer": CONSUMER, "outcome": "duplicate"})
            > duplicates
        ),
        what="marketing to see the redelivery",
    )
    assert audience(api, contact["id"]).json()["givenName"] == "Augusta"


def test_the_api_describes_itself_and_reports_health(suite):
    anonymous = Api(suite.base, None)
    spec = anonymous.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.") and "/v1/contacts/{id}" in spec["paths"]
    assert anonymous.get("/healthz").json() == {"status": "ok"}
    ready = anonymous.get("/readyz").json()
    assert ready["checks"] == {"database": "ok"}
    assert {"contacts", "marketing", "support"} <= set(ready["backends"])
    assert set(ready["backends"].values()) == {"ok"}
    assert anonymous.get("/v1/nowhere").json()["error"]["code"] == 404


def test_a_stopped_service_is_503_in_the_error_shape_not_a_hang_or_500(suite, api):
    suite.assert_running()
    assert suite.stop("marketing") == 0, "marketing shuts down cleanly on SIGTERM"
    response = api.get("/v1/audienceMembers")
    assert response.status_code == 503
    assert response.json()["error"]["status"] == "UNAVAILABLE" and response.headers["Retry-After"]
    readiness = Api(suite.base, None).get("/readyz")
    assert readiness.status_code == 200, "the gateway stays in rotation for the routes that work"
    assert readiness.json()["backends"]["marketing"] == "unavailable"
    assert api.get("/v1/contacts").status_code == 200, "the rest of the suite keeps serving"


def test_lists_filter_and_order_through_the_gateway(suite):
    api = Api(suite.base, suite.create_tenant("Filters")["apiKey"])
    for name, stage in (("Ada", "CUSTOMER"), ("Grace", "LEAD"), ("Hedy", "CUSTOMER")):
        api.post("/v1/contacts", json={"givenName": name, "lifecycleStage": stage, "customFields": {"region": "EMEA"}})
    found = api.get(
        "/v1/contacts",
        params={"filter": 'lifecycleStage = CUSTOMER AND customFields.region = "EMEA"', "orderBy": "givenName desc"},
    ).json()["contacts"]
    assert [c["givenName"] for c in found] == ["Hedy", "Ada"]
    bad = api.get("/v1/contacts", params={"filter": "shoeSize > 42"})
    assert bad.status_code == 400
    assert bad.json()["error"]["details"][0]["field"] == "filter"
    assert "cannot filter on 'shoeSize'" in bad.json()["error"]["details"][0]["description"]


def test_a_duplicate_email_is_409_naming_the_existing_contact(suite):
    api = Api(suite.base, suite.create_tenant("Dupes")["apiKey"])
    first = api.post("/v1/contacts", json={"givenName": "Ada", "email": "ada@example.com"}).json()
    again = api.post("/v1/contacts", json={"givenName": "Ada", "email": "Ada@Example.com"})
    assert again.status_code == 409
    assert again.json()["error"]["details"] == [
        {"field": "email", "description": f"already used by contact {first['id']}"}
    ]
    allowed = api.post("/v1/contacts?allowDuplicateEmail=true", json={"givenName": "Ada", "email": "ada@example.com"})
    assert allowed.status_code == 200


def test_a_partner_subscribes_over_rest_and_receives_signed_contact_events(suite, api):
    from services.integrations.webhooks.signing import verify
    from tests.webhook_receiver import Receiver

    refused = api.post("/v1/webhooks", json={"url": "https://169.254.169.254/latest", "eventTypes": ["contact.*"]})
    assert refused.status_code == 400
    assert [d["field"] for d in refused.json()["error"]["details"]] == ["url"]
    receiver = Receiver().start()
    try:
        created = api.post("/v1/webhooks", json={"url": receiver.url, "eventTypes": ["contact.created"]})
        assert created.status_code == 200, created.text
        webhook = created.json()
        assert webhook["secret"].startswith("whsec_") and webhook["state"] == "ACTIVE"
        contact = api.post("/v1/contacts", json={"givenName": "Webhooked"}).json()
        [received] = receiver.wait_for(1, timeout=30)
    finally:
        receiver.stop()
    headers = received.headers
    assert verify(
        webhook["secret"],
        headers["webhook-id"],
        int(headers["webhook-timestamp"]),
        received.body,
        headers["webhook-signature"],
    )
    assert received.json["type"] == "contact.created" and received.json["data"]["id"] == contact["id"]
    assert api.get(f"/v1/webhooks/{webhook['id']}").json().get("secret", "") == ""

    def delivered():
        listed = api.get(f"/v1/webhooks/{webhook['id']}/deliveries").json()
        return listed["deliveries"] if listed["deliveries"][0]["state"] == "SUCCEEDED" else None

    [delivery] = wait_until(delivered, 20, "the delivery recorded")
    assert delivery["messageId"] == headers["webhook-id"] and delivery["attempts"][0]["statusCode"] == 200
    types = api.get("/v1/webhookEventTypes").json()["eventTypes"]
    assert {"contact.created", "ticket.solved"} <= {t["name"] for t in types}
