"""The gateway keeps the contract its own /openapi.json states (schemathesis fuzzes every
operation with an admin key), and never serves one tenant's resources to another (BOLA)."""

from __future__ import annotations

import os

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from gateway import openapi
from gateway.routes import Route, discover
from tests.e2e.support import Api, ModuleView, wait_until
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.e2e


# Generous limits: the fuzzer must meet the API, not the rate limiter.
@pytest.fixture(scope="module")
def suite(shared_suite):
    """The shared distributed suite (tests/e2e/conftest.py), seen by this module; its rate limits
    are high enough for the fuzzer (SHARED_ENV)."""
    return ModuleView(shared_suite)


@pytest.fixture(scope="module")
def fuzz_admin(suite) -> str:
    return suite.create_tenant("Fuzzed")["apiKey"]


# A fixed, bounded run in `make test`; CRM_FUZZ_EXAMPLES=200 explores further with fresh randomness.
EXPLORE = "CRM_FUZZ_EXAMPLES" in os.environ
EXAMPLES = int(os.environ.get("CRM_FUZZ_EXAMPLES", "12"))

# The document the gateway serves, built by the same generator at collection time: schemathesis'
# lazy `from_fixture` loader (which could fetch it from the live gateway) does not work with pytest 9
# (it sets `Function._nodeid`, gone in pytest 9). test_the_fuzzed_document_is_the_served_one proves
# the two are the same document.
DOCUMENT = openapi.document(discover())
schema = schemathesis.openapi.from_dict(DOCUMENT).include(path_regex="^/v1/")


def test_the_fuzzed_document_is_the_served_one(suite):
    served = requests.get(f"{suite.base}/openapi.json", timeout=10)
    assert served.status_code == 200
    assert served.json() == DOCUMENT


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=not EXPLORE)
def test_every_operation_keeps_its_openapi_contract(case, suite, fuzz_admin):
    case.call_and_validate(
        base_url=suite.base,
        headers={"Authorization": f"Bearer {fuzz_admin}"},
        checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
    )


# BOLA: every route with a path variable, called by another tenant's admin with tenant A's ids.
# route template -> which of tenant A's resources its first path variable names. A new route with a
# path variable must be added here, or test_another_tenants_ids_are_404_on_every_route fails.
ID_OF = {
    "/v1/contacts/{id}": "contact",
    "/v1/accounts/{id}": "account",
    "/v1/customFieldDefinitions/{id}": "customFieldDefinition",
    "/v1/contacts/{id}:findDuplicates": "contact",
    "/v1/contacts/{id}:merge": "contact",
    "/v1/duplicateScans/{id}": "duplicateScan",
    "/v1/duplicateScans/{id}/pairs": "duplicateScan",
    "/v1/apiKeys/{id}:revoke": "apiKey",
    "/v1/oauthClients/{id}:revoke": "oauthClient",
    "/v1/audienceMembers/{contact_id}": "contact",
    "/v1/audienceMembers/{contact_id}/subscriptions": "contact",
    "/v1/segments/{id}": "segment",
    "/v1/segments/{id}/members": "segment",
    "/v1/segments/{id}:addMembers": "segment",
    "/v1/segments/{id}:removeMembers": "segment",
    "/v1/templates/{id}": "template",
    "/v1/templates/{id}:preview": "template",
    "/v1/campaigns/{id}": "campaign",
    "/v1/campaigns/{id}:schedule": "campaign",
    "/v1/campaigns/{id}:cancel": "campaign",
    "/v1/campaigns/{id}/messages": "campaign",
    "/v1/campaigns/{id}/analytics": "campaign",
    # Public tracking routes take a signed token, never an id: tenant A's campaign id is no token.
    "/v1/tracking/opens/{token}": "campaign",
    "/v1/tracking/clicks/{token}": "campaign",
    "/v1/tracking/unsubscribes/{token}": "campaign",
    "/v1/sequences/{id}": "sequence",
    "/v1/sequences/{id}:activate": "sequence",
    "/v1/sequences/{id}:pause": "sequence",
    "/v1/sequences/{sequence_id}/enrolments": "sequence",
    # Both ids are tenant A's sequence: nothing of tenant A is reachable either way.
    "/v1/sequences/{sequence_id}/enrolments/{id}": "sequence",
    "/v1/sequences/{sequence_id}/enrolments/{id}:exit": "sequence",
    "/v1/agents/{id}": "agent",
    "/v1/groups/{id}": "group",
    "/v1/slaPolicies/{id}": "slaPolicy",
    "/v1/tickets/{id}": "ticket",
    "/v1/tickets/{id}:close": "ticket",
    "/v1/tickets/{ticket_id}/comments": "ticket",
    "/v1/tickets/{id}:suggestArticles": "ticket",
    "/v1/articles/{id}": "article",
    "/v1/articles/{id}:publish": "article",
    "/v1/articles/{id}:unpublish": "article",
    "/v1/articleCategories/{id}": "articleCategory",
    "/v1/surveys/{id}": "survey",
    "/v1/importJobs/{id}": "importJob",
    "/v1/importJobs/{id}:uploadChunk": "importJob",
    "/v1/importJobs/{id}:start": "importJob",
    "/v1/importJobs/{id}:cancel": "importJob",
    "/v1/importJobs/{id}/errors": "importJob",
    "/v1/contacts/{id}:exportData": "contact",
    "/v1/contacts/{id}:erase": "contact",
    "/v1/privacyRequests/{id}": "privacyRequest",
    "/v1/leads/{id}": "lead",
    "/v1/leads/{id}:convert": "lead",
    "/v1/webForms/{id}": "webForm",
    # Public: the key is the credential. Tenant A's form id is not a key, so it names nothing.
    "/v1/webForms/{key}:submit": "webForm",
    "/v1/assignmentRules/{id}": "assignmentRule",
    "/v1/scoringRules/{id}": "scoringRule",
    "/v1/activities/{id}": "activity",
    "/v1/contacts/{contact_id}/timeline": "contact",
    "/v1/accounts/{account_id}/timeline": "account",
    "/v1/webhooks/{id}": "webhook",
    "/v1/webhooks/{id}:rotateSecret": "webhook",
    "/v1/webhooks/{id}:enable": "webhook",
    "/v1/webhooks/{webhook_id}/deliveries": "webhook",
    "/v1/webhookDeliveries/{id}": "webhookDelivery",
    "/v1/webhookDeliveries/{id}:replay": "webhookDelivery",
    "/v1/pipelines/{id}": "pipeline",
    "/v1/pipelines/{id}:reorderStages": "pipeline",
    "/v1/opportunities/{id}": "opportunity",
    "/v1/opportunities/{id}/stageHistory": "opportunity",
    "/v1/products/{id}": "product",
    "/v1/quotes/{id}": "quote",
    "/v1/quotes/{id}:send": "quote",
    "/v1/quotes/{id}:accept": "quote",
    "/v1/quotes/{id}:reject": "quote",
    "/v1/connections/{id}": "connection",
    "/v1/connections/{id}:check": "connection",
    "/v1/connections/{id}:sync": "connection",
    "/v1/connections/{connection_id}/syncRuns": "connection",
    "/v1/connections/{connection_id}/deadLetters": "connection",
    "/v1/connections/{connection_id}/deadLetters/{id}:replay": "connection",
    "/v1/automationRules/{id}": "automationRule",
    "/v1/automationRules/{id}:enable": "automationRule",
    "/v1/automationRules/{id}:disable": "automationRule",
    "/v1/automationRules/{id}:test": "automationRule",
    "/v1/automationRules/{rule_id}/executions": "automationRule",
    "/v1/automationExecutions/{id}": "automationExecution",
    # Public: a vendor's signature over the body is the credential (docs/adr/0059).
    "/v1/connections/{connection_id}:receiveWebhook": "connection",
}
# Public routes whose credential is a signature the intruder cannot make: refused 401 before the id
# is even looked at, the same answer whether it names a connection or not.
SIGNED = {"/v1/connections/{connection_id}:receiveWebhook": 401}
# Minimal valid bodies for writes (anything else with a body gets {}).
BODIES = {
    ("PATCH", "/v1/contacts/{id}"): {"title": "taken over"},
    ("PATCH", "/v1/accounts/{id}"): {"industry": "taken over"},
    ("PATCH", "/v1/customFieldDefinitions/{id}"): {"label": "taken over"},
    # Tenant A's second contact into its first: the intruder must not merge either.
    ("POST", "/v1/contacts/{id}:merge"): lambda ids: {"loserIds": [ids["contact2"]]},
    ("PATCH", "/v1/agents/{id}"): {"displayName": "taken over"},
    ("PATCH", "/v1/tickets/{id}"): {"subject": "taken over"},
    ("POST", "/v1/tickets/{ticket_id}/comments"): {"body": "taken over"},
    ("PATCH", "/v1/articles/{id}"): {"title": "taken over"},
    ("POST", "/v1/importJobs/{id}:uploadChunk"): {"sequence": 1, "data": "dGFrZW4gb3Zlcgo="},
    ("POST", "/v1/importJobs/{id}:start"): {"chunkCount": 1},
    ("PATCH", "/v1/leads/{id}"): {"company": "taken over"},
    ("POST", "/v1/webForms/{key}:submit"): {"fields": {"givenName": "Intruder"}},
    ("POST", "/v1/audienceMembers/{contact_id}/subscriptions"): {
        "channel": "email",
        "status": "SUBSCRIBED",
        "legalBasis": "CONSENT",
        "source": "intruder",
    },
    ("PATCH", "/v1/segments/{id}"): {"name": "taken over"},
    ("POST", "/v1/segments/{id}:addMembers"): {"contactIds": ["INTRUDER"]},
    ("POST", "/v1/segments/{id}:removeMembers"): {"contactIds": ["INTRUDER"]},
    ("POST", "/v1/templates/{id}:preview"): {"contactId": "INTRUDER"},
    ("PATCH", "/v1/campaigns/{id}"): {"name": "taken over"},
    ("POST", "/v1/tracking/unsubscribes/{token}"): {"List-Unsubscribe": "One-Click"},
    ("PATCH", "/v1/sequences/{id}"): {"name": "taken over"},
    ("POST", "/v1/sequences/{sequence_id}/enrolments"): lambda ids: {"contactId": ids["contact"]},
    ("PATCH", "/v1/activities/{id}"): {"subject": "taken over"},
    ("PATCH", "/v1/webhooks/{id}"): {"description": "taken over"},
    ("PATCH", "/v1/automationRules/{id}"): {"description": "taken over"},
    ("PATCH", "/v1/pipelines/{id}"): {"name": "taken over"},
    ("PATCH", "/v1/opportunities/{id}"): {"name": "taken over"},
    ("PATCH", "/v1/products/{id}"): {"name": "taken over"},
    ("PATCH", "/v1/quotes/{id}"): {"currencyCode": "EUR"},
    ("PATCH", "/v1/connections/{id}"): {"displayName": "taken over"},
}


@pytest.fixture(scope="module")
def receiver():
    running = Receiver().start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def tenant_a(suite, receiver) -> dict[str, str]:
    """Tenant A's admin key, and one resource of each kind the routes name."""
    api = Api(suite.base, suite.create_tenant("Victim")["apiKey"])

    def made(path: str, body: dict, pick=lambda j: j["id"]) -> str:
        response = api.post(path, json=body)
        assert response.status_code == 200, f"{path}: {response.text}"
        return str(pick(response.json()))

    ids = {"key": api.session.headers["Authorization"].split(" ", 1)[1]}
    # Subscribed before the contact is made, so that the contact's event gives it a delivery.
    ids["webhook"] = made("/v1/webhooks", {"url": receiver.url, "eventTypes": ["contact.created"]})
    # A rule the contact's creation runs (posting to the subscription), so it has an execution.
    ids["automationRule"] = made(
        "/v1/automationRules",
        {
            "displayName": "Tell the partner",
            "eventType": "contact.created",
            "condition": 'givenName = "Victim"',
            "actions": [{"callWebhook": {"webhookId": ids["webhook"]}}],
        },
    )
    ids["contact"] = made("/v1/contacts", {"givenName": "Victim", "title": "original"})
    ids["account"] = made("/v1/accounts", {"name": "Victim Inc", "industry": "original"})
    ids["customFieldDefinition"] = made(
        "/v1/customFieldDefinitions", {"objectType": "ACCOUNT", "key": "segment", "type": "TEXT", "label": "original"}
    )
    ids["contact2"] = made("/v1/contacts", {"givenName": "Victim", "familyName": "Twin"})
    ids["duplicateScan"] = made("/v1/duplicateScans", {})
    ids["apiKey"] = made("/v1/apiKeys", {"displayName": "victim", "roles": ["sales_rep"]}, lambda j: j["apiKey"]["id"])
    ids["oauthClient"] = made(
        "/v1/oauthClients", {"displayName": "victim", "roles": ["partner"]}, lambda j: j["oauthClient"]["id"]
    )
    ids["group"] = made("/v1/groups", {"name": "Billing"})
    ids["agent"] = made("/v1/agents", {"displayName": "Ann", "capacity": 2, "groupIds": [ids["group"]]})
    ids["slaPolicy"] = made(
        "/v1/slaPolicies",
        {
            "name": "Standard",
            "calendar": {
                "timeZone": "UTC",
                "workingHours": [{"day": d, "startTime": "00:00", "endTime": "24:00"} for d in range(1, 8)],
            },
            "targets": [{"priority": "NORMAL", "firstResponseMinutes": 60, "resolutionMinutes": 480}],
        },
    )
    ids["ticket"] = made("/v1/tickets", {"subject": "Mine", "requesterId": ids["contact"]})
    ids["articleCategory"] = made("/v1/articleCategories", {"name": "Billing"})
    ids["article"] = made(
        "/v1/articles", {"title": "Paying twice", "body": "Refunds", "categoryId": ids["articleCategory"]}
    )
    ids["survey"] = made("/v1/surveys", {"kind": "NPS", "requesterId": ids["contact"]})
    ids["importJob"] = made("/v1/contacts:import", {"columnMapping": {"Mail": "email"}})
    chunk = {"sequence": 0, "data": "TWFpbAo="}  # "Mail\n"
    assert api.post(f"/v1/importJobs/{ids['importJob']}:uploadChunk", json=chunk).status_code == 200
    ids["privacyRequest"] = made(f"/v1/contacts/{ids['contact']}:exportData", {})
    ids["lead"] = made("/v1/leads", {"givenName": "Victim", "company": "original", "email": "victim@lead.example"})
    ids["webForm"] = made("/v1/webForms", {"name": "Contact us"})
    ids["assignmentRule"] = made("/v1/assignmentRules", {"name": "Everyone", "ownerIds": ["rep-1"]})
    ids["scoringRule"] = made("/v1/scoringRules", {"attribute": "industry", "value": "saas", "points": 10})
    ids["segment"] = made("/v1/segments", {"name": "original", "kind": "STATIC"})
    ids["template"] = made("/v1/templates", {"name": "original", "subject": "Hi", "textBody": "Hello"})
    ids["campaign"] = made(
        "/v1/campaigns", {"name": "original", "segmentId": ids["segment"], "templateId": ids["template"]}
    )
    ids["sequence"] = made("/v1/sequences", {"name": "original", "steps": [{"email": {"templateId": ids["template"]}}]})
    ids["activity"] = made(
        "/v1/activities",
        {"kind": "NOTE", "subject": "original", "contactIds": [ids["contact"]], "accountIds": [ids["account"]]},
    )
    stages = [{"name": "Open", "probability": 20}, {"name": "Won", "category": "WON"}]
    stages.append({"name": "Lost", "category": "LOST"})
    ids["pipeline"] = made("/v1/pipelines", {"name": "Sales", "stages": stages})
    ids["opportunity"] = made(
        "/v1/opportunities",
        {
            "name": "Mine",
            "pipelineId": ids["pipeline"],
            "contactId": ids["contact"],
            "amount": {"currencyCode": "USD", "units": "100"},
        },
    )
    ids["product"] = made(
        "/v1/products", {"sku": "W-1", "name": "Widget", "unitPrice": {"currencyCode": "USD", "units": "5"}}
    )
    ids["quote"] = made(
        "/v1/quotes", {"opportunityId": ids["opportunity"], "lines": [{"productId": ids["product"], "quantity": "2"}]}
    )
    ids["connection"] = made(
        "/v1/connections",
        {"type": "SMTP", "displayName": "Mail", "host": "127.0.0.1", "port": 2525, "fromAddress": "a@example.com"},
    )
    # The marketing projection of the contact arrives by event: wait until tenant A sees it, so that
    # tenant B's 404 on it means "not yours", not "not there yet".
    wait_until(lambda: api.get(f"/v1/audienceMembers/{ids['contact']}").status_code == 200, 30, "the projection")
    deliveries = wait_until(
        lambda: api.get(f"/v1/webhooks/{ids['webhook']}/deliveries").json()["deliveries"], 30, "the webhook delivery"
    )
    ids["webhookDelivery"] = deliveries[0]["id"]
    executions = wait_until(
        lambda: api.get("/v1/automationExecutions").json().get("executions"), 30, "the rule's execution"
    )
    ids["automationExecution"] = executions[0]["id"]
    return ids


def routes_with_ids() -> list[Route]:
    return [r for r in discover() if r.path_fields]


def test_every_route_with_an_id_has_a_bola_case():
    missing = sorted({r.template for r in routes_with_ids()} - ID_OF.keys())
    assert not missing, f"add these routes to ID_OF (how to get tenant A's id for them): {missing}"


def test_another_tenants_ids_are_404_on_every_route(suite, tenant_a):
    intruder = Api(suite.base, suite.create_tenant("Intruder")["apiKey"])
    owner = Api(suite.base, tenant_a["key"])
    answers, expected = {}, {}
    for route in routes_with_ids():
        assert route.template in ID_OF, f"{route.template}: no BOLA case (add it to ID_OF)"
        resource = tenant_a[ID_OF[route.template]]
        path = route.template
        for _, field in route.path_fields:
            path = path.replace(f"{{{field}}}", resource)
        body = BODIES.get((route.http_method, route.template), {}) if route.body else None
        body = body(tenant_a) if callable(body) else body
        response = getattr(intruder, route.http_method.lower())(path, json=body)
        answers[f"{route.http_method} {route.template}"] = response.status_code
        expected[f"{route.http_method} {route.template}"] = SIGNED.get(route.template, 404)
        if response.status_code == 404:
            assert response.json()["error"]["status"] == "NOT_FOUND", response.text
    assert answers == expected, answers

    # Nothing the intruder tried took effect on tenant A's resources.
    contact = owner.get(f"/v1/contacts/{tenant_a['contact']}")
    assert contact.status_code == 200 and contact.json()["title"] == "original"
    assert owner.get(f"/v1/accounts/{tenant_a['account']}").json()["industry"] == "original"
    assert owner.get(f"/v1/segments/{tenant_a['segment']}").json()["name"] == "original"
    campaign = owner.get(f"/v1/campaigns/{tenant_a['campaign']}").json()
    assert (campaign["name"], campaign["status"]) == ("original", "DRAFT")
    sequence = owner.get(f"/v1/sequences/{tenant_a['sequence']}").json()
    assert (sequence["name"], sequence["state"]) == ("original", "DRAFT")
    assert owner.get(f"/v1/sequences/{tenant_a['sequence']}/enrolments").json().get("enrolments", []) == []
    assert owner.get(f"/v1/audienceMembers/{tenant_a['contact']}/subscriptions").json().get("history", []) == []
    assert owner.get(f"/v1/customFieldDefinitions/{tenant_a['customFieldDefinition']}").json()["label"] == "original"
    assert owner.get(f"/v1/contacts/{tenant_a['contact2']}").json()["id"] == tenant_a["contact2"], "not merged"
    keys = {k["id"]: k for k in owner.get("/v1/apiKeys", params={"pageSize": 1000}).json()["apiKeys"]}
    assert keys[tenant_a["apiKey"]].get("revokeTime") is None
    ticket = owner.get(f"/v1/tickets/{tenant_a['ticket']}").json()
    assert ticket["subject"] == "Mine" and ticket["status"] != "CLOSED"
    assert owner.get(f"/v1/tickets/{tenant_a['ticket']}/comments").json()["comments"] == []
    assert owner.get(f"/v1/slaPolicies/{tenant_a['slaPolicy']}").status_code == 200
    assert owner.get(f"/v1/agents/{tenant_a['agent']}").json()["displayName"] == "Ann"
    activity = owner.get(f"/v1/activities/{tenant_a['activity']}")
    assert activity.status_code == 200 and activity.json()["subject"] == "original"
    assert owner.get(f"/v1/accounts/{tenant_a['account']}/timeline").status_code == 200
    article = owner.get(f"/v1/articles/{tenant_a['article']}").json()
    assert article["title"] == "Paying twice" and article["status"] == "DRAFT"
    job = owner.get(f"/v1/importJobs/{tenant_a['importJob']}").json()
    assert (job["state"], job["chunksReceived"]) == ("UPLOADING", 1)
    lead = owner.get(f"/v1/leads/{tenant_a['lead']}").json()
    assert lead["company"] == "original" and lead["status"] == "new" and lead["contactId"] == ""
    assert [x["givenName"] for x in owner.get("/v1/leads").json()["leads"]] == ["Victim"]
    for kind, path in (("assignmentRule", "assignmentRules"), ("scoringRule", "scoringRules"), ("webForm", "webForms")):
        assert owner.get(f"/v1/{path}/{tenant_a[kind]}").status_code == 200
    webhook = owner.get(f"/v1/webhooks/{tenant_a['webhook']}").json()
    assert webhook["description"] == "" and webhook.get("previousSecretExpireTime") is None
    assert owner.get(f"/v1/pipelines/{tenant_a['pipeline']}").json()["name"] == "Sales"
    opportunity = owner.get(f"/v1/opportunities/{tenant_a['opportunity']}").json()
    assert opportunity["name"] == "Mine" and opportunity["stageName"] == "Open"
    assert owner.get(f"/v1/products/{tenant_a['product']}").json()["name"] == "Widget"
    quote = owner.get(f"/v1/quotes/{tenant_a['quote']}").json()
    assert quote["status"] == "DRAFT" and quote["currencyCode"] == "USD"
    assert owner.get(f"/v1/connections/{tenant_a['connection']}").status_code == 200
    assert owner.get(f"/v1/connections/{tenant_a['connection']}/syncRuns").json().get("syncRuns", []) == []
    rule = owner.get(f"/v1/automationRules/{tenant_a['automationRule']}").json()
    assert rule["state"] == "ENABLED" and rule.get("description", "") == ""


def test_an_smtp_connection_made_over_rest_is_checked_for_real_and_never_shows_its_password(suite, tmp_path):
    from tests.mailservers import SmtpServer, self_signed

    certificate = self_signed()
    smtp = SmtpServer(certificate).start(tmp_path)
    try:
        api = Api(suite.base, suite.create_tenant("Mailer")["apiKey"])
        body = {
            "type": "SMTP",
            "displayName": "Outbound",
            "host": "localhost",
            "port": smtp.port,
            "security": "STARTTLS",
            "username": smtp.username,
            "password": smtp.password,
            "fromAddress": "help@acme.example.com",
            "caCertificate": certificate.cert_pem,
        }
        created = api.post("/v1/connections", json=body)
        assert created.status_code == 200, created.text
        connection = created.json()
        assert connection.get("password", "") == "" and connection["hasPassword"] is True
        assert smtp.password not in created.text
        listed = api.get("/v1/connections")
        assert smtp.password not in listed.text and [c["id"] for c in listed.json()["connections"]] == [
            connection["id"]
        ]

        check = api.post(f"/v1/connections/{connection['id']}:check", json={})
        assert check.status_code == 200, check.text
        assert check.json()["ok"] is True
        assert [s["name"] for s in check.json()["steps"]] == ["connect", "ehlo", "starttls", "ehlo", "auth", "noop"]

        bad = api.post("/v1/connections", json={**body, "fromAddress": "nobody", "port": 0})
        assert bad.status_code == 400
        fields = {v["field"] for v in bad.json()["error"]["details"]}
        assert fields == {"fromAddress", "port"}
        assert len(api.get("/v1/connections").json()["connections"]) == 1
        for process in ("gateway", "integrations"):
            assert smtp.password not in suite.log(process, whole=True)
    finally:
        smtp.stop()
