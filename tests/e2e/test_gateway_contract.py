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
from tests.e2e.support import Api, start_distributed, stop_distributed, wait_until

pytestmark = pytest.mark.e2e

# Generous limits: the fuzzer must meet the API, not the rate limiter.
ENV = {"CRM_RATE_LIMITS": "read=100000/60,write=100000/60,search=100000/60,bulk=100000/60"}


@pytest.fixture(scope="module")
def suite(tmp_path_factory, databases, amqp_url, redis_server):
    template = databases.template("contract")
    suite = start_distributed(tmp_path_factory.mktemp("contract"), template, amqp_url, redis_server, ENV)
    try:
        yield suite
    finally:
        stop_distributed(suite)


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
    "/v1/apiKeys/{id}:revoke": "apiKey",
    "/v1/oauthClients/{id}:revoke": "oauthClient",
    "/v1/audienceMembers/{contact_id}": "contact",
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
}
# Minimal valid bodies for writes (anything else with a body gets {}).
BODIES = {
    ("PATCH", "/v1/contacts/{id}"): {"title": "taken over"},
    ("PATCH", "/v1/accounts/{id}"): {"industry": "taken over"},
    ("PATCH", "/v1/customFieldDefinitions/{id}"): {"label": "taken over"},
    ("PATCH", "/v1/agents/{id}"): {"displayName": "taken over"},
    ("PATCH", "/v1/tickets/{id}"): {"subject": "taken over"},
    ("POST", "/v1/tickets/{ticket_id}/comments"): {"body": "taken over"},
    ("PATCH", "/v1/articles/{id}"): {"title": "taken over"},
    ("POST", "/v1/importJobs/{id}:uploadChunk"): {"sequence": 1, "data": "dGFrZW4gb3Zlcgo="},
    ("POST", "/v1/importJobs/{id}:start"): {"chunkCount": 1},
    ("PATCH", "/v1/leads/{id}"): {"company": "taken over"},
    ("POST", "/v1/webForms/{key}:submit"): {"fields": {"givenName": "Intruder"}},
}


@pytest.fixture(scope="module")
def tenant_a(suite) -> dict[str, str]:
    """Tenant A's admin key, and one resource of each kind the routes name."""
    api = Api(suite.base, suite.create_tenant("Victim")["apiKey"])

    def made(path: str, body: dict, pick=lambda j: j["id"]) -> str:
        response = api.post(path, json=body)
        assert response.status_code == 200, f"{path}: {response.text}"
        return str(pick(response.json()))

    ids = {"key": api.session.headers["Authorization"].split(" ", 1)[1]}
    ids["contact"] = made("/v1/contacts", {"givenName": "Victim", "title": "original"})
    ids["account"] = made("/v1/accounts", {"name": "Victim Inc", "industry": "original"})
    ids["customFieldDefinition"] = made(
        "/v1/customFieldDefinitions", {"objectType": "ACCOUNT", "key": "segment", "type": "TEXT", "label": "original"}
    )
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
    # The marketing projection of the contact arrives by event: wait until tenant A sees it, so that
    # tenant B's 404 on it means "not yours", not "not there yet".
    wait_until(lambda: api.get(f"/v1/audienceMembers/{ids['contact']}").status_code == 200, 30, "the projection")
    return ids


def routes_with_ids() -> list[Route]:
    return [r for r in discover() if r.path_fields]


def test_every_route_with_an_id_has_a_bola_case():
    missing = sorted({r.template for r in routes_with_ids()} - ID_OF.keys())
    assert not missing, f"add these routes to ID_OF (how to get tenant A's id for them): {missing}"


def test_another_tenants_ids_are_404_on_every_route(suite, tenant_a):
    intruder = Api(suite.base, suite.create_tenant("Intruder")["apiKey"])
    owner = Api(suite.base, tenant_a["key"])
    answers = {}
    for route in routes_with_ids():
        assert route.template in ID_OF, f"{route.template}: no BOLA case (add it to ID_OF)"
        resource = tenant_a[ID_OF[route.template]]
        path = route.template
        for _, field in route.path_fields:
            path = path.replace(f"{{{field}}}", resource)
        body = BODIES.get((route.http_method, route.template), {}) if route.body else None
        response = getattr(intruder, route.http_method.lower())(path, json=body)
        answers[f"{route.http_method} {route.template}"] = response.status_code
        if response.status_code == 404:
            assert response.json()["error"]["status"] == "NOT_FOUND", response.text
    assert answers == {name: 404 for name in answers}, answers

    # Nothing the intruder tried took effect on tenant A's resources.
    contact = owner.get(f"/v1/contacts/{tenant_a['contact']}")
    assert contact.status_code == 200 and contact.json()["title"] == "original"
    assert owner.get(f"/v1/accounts/{tenant_a['account']}").json()["industry"] == "original"
    assert owner.get(f"/v1/customFieldDefinitions/{tenant_a['customFieldDefinition']}").json()["label"] == "original"
    keys = {k["id"]: k for k in owner.get("/v1/apiKeys", params={"pageSize": 1000}).json()["apiKeys"]}
    assert keys[tenant_a["apiKey"]].get("revokeTime") is None
    ticket = owner.get(f"/v1/tickets/{tenant_a['ticket']}").json()
    assert ticket["subject"] == "Mine" and ticket["status"] != "CLOSED"
    assert owner.get(f"/v1/tickets/{tenant_a['ticket']}/comments").json()["comments"] == []
    assert owner.get(f"/v1/slaPolicies/{tenant_a['slaPolicy']}").status_code == 200
    assert owner.get(f"/v1/agents/{tenant_a['agent']}").json()["displayName"] == "Ann"
    article = owner.get(f"/v1/articles/{tenant_a['article']}").json()
    assert article["title"] == "Paying twice" and article["status"] == "DRAFT"
    job = owner.get(f"/v1/importJobs/{tenant_a['importJob']}").json()
    assert (job["state"], job["chunksReceived"]) == ("UPLOADING", 1)
    lead = owner.get(f"/v1/leads/{tenant_a['lead']}").json()
    assert lead["company"] == "original" and lead["status"] == "new" and lead["contactId"] == ""
    assert [x["givenName"] for x in owner.get("/v1/leads").json()["leads"]] == ["Victim"]
    for kind, path in (("assignmentRule", "assignmentRules"), ("scoringRule", "scoringRules"), ("webForm", "webForms")):
        assert owner.get(f"/v1/{path}/{tenant_a[kind]}").status_code == 200
