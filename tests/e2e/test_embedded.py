"""The quick start: `crm run --target all` with nothing configured (SQLite files, in-process bus)."""

from __future__ import annotations

import pytest

from tests.e2e.support import STARTUP_SECONDS, Api, Suite, all_ready, free_port, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    env = {"CRM_GATEWAY_ADDR": f"127.0.0.1:{free_port()}", "CRM_METRICS_PORT": str(free_port())}
    env["CRM_WEBHOOKS_ALLOW_LOOPBACK"] = "true"  # only so the test's receiver on 127.0.0.1 may get webhooks
    for service in ("contacts", "sales", "support", "marketing", "integrations"):
        env[f"CRM_{service.upper()}_ADDR"] = f"127.0.0.1:{free_port()}"
    suite = Suite(tmp_path_factory.mktemp("embedded"), env)
    suite.crm("migrate")
    suite.start("all")
    suite.base = f"http://{env['CRM_GATEWAY_ADDR']}"
    suite.metrics = f"http://127.0.0.1:{env['CRM_METRICS_PORT']}/metrics"
    try:
        wait_until(lambda: all_ready(suite.base), STARTUP_SECONDS, "the embedded suite")
        yield suite
    finally:
        suite.stop_all()


def test_the_quick_start_from_tenant_to_contacts_to_marketing(embedded):
    assert sorted(p.name for p in (embedded.workdir / "var").glob("*.db")) == [
        f"{n}.db" for n in ("contacts", "gateway", "integrations", "marketing", "sales", "support")
    ]
    api = Api(embedded.base, embedded.create_tenant("Demo")["apiKey"])
    contact = api.post("/v1/contacts", json={"givenName": "Ada", "email": "ada@example.com"})
    assert contact.status_code == 200, contact.text
    listed = api.get("/v1/contacts").json()
    assert [c["id"] for c in listed["contacts"]] == [contact.json()["id"]] and listed["nextPageToken"] == ""
    member = wait_until(
        lambda: (r := api.get(f"/v1/audienceMembers/{contact.json()['id']}")).status_code == 200 and r.json(),
        what="the in-process event to reach marketing",
    )
    assert member["email"] == "ada@example.com"


def test_a_ticket_reaches_its_requesters_timeline_over_the_in_process_bus(embedded):
    api = Api(embedded.base, embedded.create_tenant("Timeline")["apiKey"])
    contact = api.post("/v1/contacts", json={"givenName": "Grace"}).json()
    ticket = api.post("/v1/tickets", json={"subject": "Broken", "requesterId": contact["id"]})
    assert ticket.status_code == 200, ticket.text
    entries = wait_until(
        lambda: (r := api.get(f"/v1/contacts/{contact['id']}/timeline")).status_code == 200 and r.json()["entries"],
        what="the ticket on the timeline",
    )
    assert [(e["kind"], e["sourceId"]) for e in entries] == [("ticket.opened", ticket.json()["id"])]


def test_webhooks_are_delivered_in_the_embedded_mode(embedded):
    from tests.webhook_receiver import Receiver

    api = Api(embedded.base, embedded.create_tenant("Hooked")["apiKey"])
    receiver = Receiver().start()
    try:
        created = api.post("/v1/webhooks", json={"url": receiver.url, "eventTypes": ["contact.*"]})
        assert created.status_code == 200, created.text
        contact = api.post("/v1/contacts", json={"givenName": "Ada"}).json()
        [received] = receiver.wait_for(1)
    finally:
        receiver.stop()
    assert received.json["type"] == "contact.created" and received.json["data"]["id"] == contact["id"]


def test_automation_rules_run_and_stop_their_own_loops_on_sqlite(embedded):
    api = Api(embedded.base, embedded.create_tenant("Automation")["apiKey"])
    rules = []
    for value, other in (("ping", "pong"), ("pong", "ping")):
        made = api.post(
            "/v1/automationRules",
            json={
                "displayName": f"{value} to {other}",
                "eventType": "contact.updated",
                "condition": f'contact.title = "{value}"',
                "actions": [{"updateField": {"field": "title", "value": other}}],
            },
        )
        assert made.status_code == 200, made.text
        rules.append(made.json()["id"])
    contact = api.post("/v1/contacts", json={"givenName": "Loop"}).json()
    api.patch(f"/v1/contacts/{contact['id']}", json={"title": "ping"})

    def settled():
        found = api.get("/v1/automationExecutions").json().get("executions", [])
        return found if len(found) == 3 and all(e["state"] != "PENDING" for e in found) else None

    found = wait_until(settled, 30, "both rules to run and the loop to stop")
    assert sorted(e["state"] for e in found) == ["SKIPPED", "SUCCEEDED", "SUCCEEDED"]
    assert api.get(f"/v1/contacts/{contact['id']}").json()["title"] == "ping"


def test_the_process_exposes_prometheus_metrics(embedded):
    import requests

    text = requests.get(embedded.metrics, timeout=5).text
    for name in ("crm_http_requests_total", "crm_grpc_server_handled_total", "crm_events_published_total"):
        assert name in text


def test_a_deal_is_forecast_and_quoted_on_sqlite(embedded):
    api = Api(embedded.base, embedded.create_tenant("Deals")["apiKey"])
    stages = [{"name": "Open", "probability": 25}, {"name": "Won", "category": "WON"}]
    pipeline = api.post("/v1/pipelines", json={"name": "P", "stages": [*stages, {"name": "Lost", "category": "LOST"}]})
    assert pipeline.status_code == 200, pipeline.text
    contact = api.post("/v1/contacts", json={"givenName": "Ada"}).json()
    deal = api.post(
        "/v1/opportunities",
        json={
            "name": "D",
            "pipelineId": pipeline.json()["id"],
            "contactId": contact["id"],
            "amount": {"currencyCode": "JPY", "units": "1001"},
            "closeDate": {"year": 2027, "month": 11, "day": 2},
        },
    )
    assert deal.status_code == 200, deal.text
    [row] = api.get("/v1/salesForecast", params={"period": "QUARTER"}).json()["rows"]
    # 1001 x 25 % = 250.25 JPY -> 250 (no minor unit)
    assert row["period"] == "2027-Q4" and row["weightedAmount"] == {"currencyCode": "JPY", "units": "250", "nanos": 0}
    quote = api.post(
        "/v1/quotes",
        json={
            "opportunityId": deal.json()["id"],
            "lines": [
                {
                    "name": "x",
                    "quantity": "3",
                    "unitPrice": {"currencyCode": "JPY", "units": "333"},
                    "discountPercent": "10",
                }
            ],
        },
    )
    assert quote.status_code == 200, quote.text
    assert quote.json()["netTotal"]["units"] == "899" and quote.json()["number"] == "Q-000001"


def test_the_accounting_chain_runs_on_sqlite_and_the_in_process_bus(embedded):
    """The same chain as tests/e2e/test_accounting_chain.py, embedded: vendor calls happen outside
    any transaction, so SQLite's single writer is never held while QuickBooks answers."""
    from tests.e2e.test_accounting_chain import follow_the_chain
    from tests.simulators.quickbooks import QuickBooksSimulator

    quickbooks = QuickBooksSimulator().start()
    try:
        follow_the_chain(embedded.base, Api(embedded.base, embedded.create_tenant("Books")["apiKey"]), quickbooks)
    finally:
        quickbooks.stop()


# Last: it stops the module's suite.
def test_sigterm_stops_every_module_cleanly(embedded):
    embedded.assert_running()
    assert embedded.stop("all") == 0
