"""Issue #7's chain, end to end through the gateway: a deal won over REST becomes a sales order in
the ERP (the Odoo simulator) and an invoice in the accounting system (the QuickBooks Online
simulator); the customer's payment comes back through QuickBooks' signed webhook on the public
route and lands on the contact's and the account's timelines — sales, contacts, integrations, the
relay and the gateway as separate processes on PostgreSQL and RabbitMQ."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from tests.e2e.support import Api, ModuleView, wait_until
from tests.simulators.odoo import OdooSimulator
from tests.simulators.quickbooks import QuickBooksSimulator
from tests.simulators.vendor import sign

pytestmark = pytest.mark.e2e

ODOO_LOGIN, ODOO_KEY = "bot@chain.example.com", "odoo-key-c4a1"
PIPELINE = {
    "name": "Sales",
    "stages": [
        {"name": "Open", "probability": 20},
        {"name": "Won", "category": "WON"},
        {"name": "Lost", "category": "LOST"},
    ],
}


@pytest.fixture(scope="module")
def quickbooks() -> Iterator[QuickBooksSimulator]:
    simulator = QuickBooksSimulator()
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture(scope="module")
def odoo() -> Iterator[OdooSimulator]:
    simulator = OdooSimulator(login=ODOO_LOGIN, api_key=ODOO_KEY)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture(scope="module")
def suite(shared_suite):
    """The shared distributed suite (tests/e2e/conftest.py), seen by this module with its own tenant."""
    suite = ModuleView(shared_suite)
    suite.key = suite.create_tenant("Books")["apiKey"]
    return suite


@pytest.fixture(scope="module")
def api(suite) -> Api:
    return Api(suite.base, suite.key)


def connect_quickbooks(api: Api, sim: QuickBooksSimulator) -> dict:
    _, refresh = sim.grant(sim.realm_id)
    body = {
        "type": "QUICKBOOKS",
        "displayName": "QuickBooks",
        "baseUrl": sim.url,
        "realmId": sim.realm_id,
        "oauth2": {
            "clientId": sim.client_id,
            "clientSecret": sim.client_secret,
            "refreshToken": refresh,
            "tokenUrl": sim.token_url,
        },
        "webhookKey": sim.webhook_key,
    }
    response = api.post("/v1/connections", json=body)
    assert response.status_code == 200, response.text
    connection = response.json()
    assert connection["hasWebhookKey"] and connection.get("webhookKey", "") == ""
    assert sim.webhook_key not in response.text and refresh not in response.text
    return connection


def timeline(api: Api, path: str) -> list[dict]:
    response = api.get(path, params={"pageSize": 100})
    return response.json().get("entries", []) if response.status_code == 200 else []


def test_a_won_deal_becomes_an_erp_order_and_an_invoice_whose_signed_payment_reaches_the_timeline(
    suite, api, quickbooks, odoo
):
    follow_the_chain(suite.base, api, quickbooks, odoo)


def follow_the_chain(base: str, api: Api, quickbooks: QuickBooksSimulator, odoo: OdooSimulator | None = None) -> None:
    """Deal won over REST → (sales order in Odoo) → invoice in QuickBooks → payment + signed
    webhook → timelines."""
    if odoo is not None:
        erp = {
            "type": "ODOO",
            "displayName": "Odoo",
            "baseUrl": odoo.url,
            "database": odoo.database,
            "username": ODOO_LOGIN,
            "apiKey": ODOO_KEY,
        }
        assert api.post("/v1/connections", json=erp).status_code == 200
    connection = connect_quickbooks(api, quickbooks)
    check = api.post(f"/v1/connections/{connection['id']}:check", json={})
    assert check.json()["ok"], check.text

    account = api.post("/v1/accounts", json={"name": "Chain Corp", "domain": "chain.example.com"}).json()
    contact = api.post(
        "/v1/contacts",
        json={
            "givenName": "Grace",
            "familyName": "Hopper",
            "email": "grace@chain.example.com",
            "accountIds": [account["id"]],
        },
    ).json()
    pipeline = api.post("/v1/pipelines", json=PIPELINE).json()
    stages = {s["name"]: s["id"] for s in pipeline["stages"]}
    deal = api.post(
        "/v1/opportunities",
        json={
            "name": "Chain renewal",
            "pipelineId": pipeline["id"],
            "contactId": contact["id"],
            "accountId": account["id"],
            "amount": {"currencyCode": "USD", "units": "2500", "nanos": 0},
        },
    ).json()
    won = api.patch(f"/v1/opportunities/{deal['id']}", json={"stageId": stages["Won"], "closeReason": "renewed"})
    assert won.status_code == 200, won.text

    if odoo is not None:  # won → OpportunityWon → the ERP's sales order for the account
        orders = wait_until(
            lambda: [o for o in odoo.all("sale.order") if o["client_order_ref"] == f"CRM opportunity:{deal['id']}"],
            60,
            "the sales order in Odoo",
        )
        [order] = orders  # type: ignore[misc]
        assert order["amount_total"] == 2500.0
        partner = odoo.get("res.partner", order["partner_id"])
        assert partner["name"] == "Chain Corp"

    # won → OpportunityWon → RabbitMQ → integrations → an invoice in QuickBooks for the account.
    invoices = wait_until(lambda: quickbooks.find("Invoice"), 60, "the invoice in QuickBooks")
    [invoice] = invoices  # type: ignore[misc]
    [customer] = quickbooks.find("Customer", Id=invoice["CustomerRef"]["value"])
    assert customer["DisplayName"] == "Chain Corp" and invoice["TotalAmt"] == 2500.0
    entries = wait_until(
        lambda: [e for e in timeline(api, f"/v1/contacts/{contact['id']}/timeline") if e["kind"] == "invoice.created"],
        60,
        "the invoice on the contact's timeline",
    )
    assert entries[0]["title"] == f"Invoice {invoice['DocNumber']}"  # type: ignore[index]

    # The customer pays; QuickBooks calls the public webhook route, signed over the raw body.
    payment = quickbooks.pay(invoice["Id"], "2500")
    url = f"{base}/v1/connections/{connection['id']}:receiveWebhook"
    body = json.dumps(quickbooks.notification(("Payment", payment["Id"], "Create"))).encode()
    for headers in ({}, {"intuit-signature": sign("guessed", body)}):
        refused = requests.post(url, data=body, headers={"Content-Type": "application/json", **headers}, timeout=10)
        assert refused.status_code == 401, refused.text
        error = refused.json()["error"]
        assert (error["code"], error["status"]) == (401, "UNAUTHENTICATED") and "signature" in error["message"]
    accepted = quickbooks.deliver(
        url, quickbooks.notification(("Payment", payment["Id"], "Create")), "intuit-signature"
    )
    assert accepted.status_code == 200 and accepted.content == b""

    paid = wait_until(
        lambda: [e for e in timeline(api, f"/v1/contacts/{contact['id']}/timeline") if e["kind"] == "payment.received"],
        60,
        "the payment on the contact's timeline",
    )
    [entry] = paid  # type: ignore[misc]
    assert entry["source"] == "integrations" and entry["accountId"] == account["id"]
    assert entry["attributes"]["amount"] == {"currencyCode": "USD", "units": "2500", "nanos": 0}
    assert entry["attributes"]["externalSystem"] == "quickbooks"
    on_account = timeline(api, f"/v1/accounts/{account['id']}/timeline")
    assert "payment.received" in {e["kind"] for e in on_account}

    runs = api.get(f"/v1/connections/{connection['id']}/syncRuns").json()["syncRuns"]
    assert [r["trigger"] for r in runs] == ["webhook"] and runs[0]["status"] == "SUCCEEDED"
