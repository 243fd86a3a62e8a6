"""Odoo end to end (issue #7 point 3; docs/adr/0057, 0058): the gateway, contacts, sales and
integrations as separate processes on PostgreSQL and RabbitMQ, against the local Odoo simulator
(tests/simulators/odoo.py) — JSON-2 on a 19 server, the legacy JSON-RPC on a 17 one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.support import Api, ModuleView, wait_until
from tests.simulators.base import Reply
from tests.simulators.odoo import OdooSimulator

pytestmark = pytest.mark.e2e

KEY = "odoo-key-2b7d"
LOGIN = "bot@acme.example.com"


@pytest.fixture(scope="module")
def suite(shared_suite):  # type: ignore[no-untyped-def]
    """The shared distributed suite (tests/e2e/conftest.py), seen by this module; connectors sync only when asked."""
    return ModuleView(shared_suite)


@pytest.fixture(scope="module")
def odoo() -> Iterator[OdooSimulator]:
    server = OdooSimulator(login=LOGIN, api_key=KEY).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def legacy() -> Iterator[OdooSimulator]:
    server = OdooSimulator(database="old", login=LOGIN, api_key=KEY, version=17).start()
    yield server
    server.stop()


def connection(server: OdooSimulator, **extra: Any) -> dict[str, Any]:
    return {
        "type": "ODOO",
        "displayName": "Odoo",
        "baseUrl": server.url,
        "database": server.database,
        "username": LOGIN,
        "apiKey": KEY,
        **extra,
    }


def sync(api: Api, connection_id: str, **body: Any) -> dict[str, Any]:
    answer = api.post(f"/v1/connections/{connection_id}:sync", json=body, timeout=60)
    assert answer.status_code == 200, answer.text
    run: dict[str, Any] = answer.json()
    assert run["status"] == "SUCCEEDED", run
    return run


def contacts_by_email(api: Api) -> dict[str, dict[str, Any]]:
    found = api.get("/v1/contacts", params={"pageSize": 100}).json().get("contacts", [])
    return {c.get("email", ""): c for c in found}


def partner_by_email(server: OdooSimulator, email: str) -> dict[str, Any] | None:
    return next((p for p in server.all("res.partner") if p.get("email") == email), None)


def writes_to(server: OdooSimulator, partner_id: int) -> int:
    return sum(1 for r in server.seen("/json/2/res.partner/write") if r.json().get("ids") == [partner_id])


def test_partners_flow_both_ways_without_echoes_and_orders_follow_won_business(suite, odoo: OdooSimulator):  # type: ignore[no-untyped-def]
    api = Api(suite.base, suite.create_tenant("Odoo JSON-2")["apiKey"])
    for object_type in ("CONTACT", "ACCOUNT"):
        made = api.post(
            "/v1/customFieldDefinitions",
            json={"objectType": object_type, "key": "odooRef", "label": "Odoo reference", "type": "TEXT"},
        )
        assert made.status_code == 200, made.text
    acme = odoo.add("res.partner", name="Acme Ltd", is_company=True, website="https://www.acme.example", ref="A-1")
    ada = odoo.add(
        "res.partner", name="Ada Lovelace", parent_id=acme, email="ada@acme.example", function="CTO", ref="C-1"
    )
    odoo.add("res.partner", name="Bob Stone", email="bob@stone.example", phone="+44 20 7946 0000")
    broken = odoo.add("res.partner", name="Eve Broken", email="eve at nowhere")

    mapping = {
        "stream": "res.partner",
        "externalField": "ref",
        "crmField": "customFields.odooRef",
        "direction": "INBOUND",
    }
    bad = api.post("/v1/connections", json=connection(odoo, fieldMappings=[{**mapping, "stream": "sale.nope"}]))
    assert bad.status_code == 400 and {d["field"] for d in bad.json()["error"]["details"]} == {
        "fieldMappings[0].stream"
    }
    created = api.post("/v1/connections", json=connection(odoo, fieldMappings=[mapping]))
    assert created.status_code == 200, created.text
    conn = created.json()
    assert conn["hasApiKey"] and conn.get("apiKey", "") == "" and KEY not in created.text
    check = api.post(f"/v1/connections/{conn['id']}:check", json={}, timeout=30).json()
    assert check["ok"] and [s["name"] for s in check["steps"]] == ["json2", "read"], check
    assert all(r.headers["authorization"] == f"bearer {KEY}" for r in odoo.seen("/json/2/"))
    assert all(r.headers["x-odoo-database"] == "acme" for r in odoo.seen("/json/2/"))

    # Inbound: companies become accounts, persons contacts; a partner the CRM refuses is kept.
    first = sync(api, conn["id"])
    assert (first["fetchedCount"], first["createdCount"], first["failedCount"]) == (4, 3, 1), first
    people = contacts_by_email(api)
    assert set(people) == {"ada@acme.example", "bob@stone.example"}
    accounts = api.get("/v1/accounts").json()["accounts"]
    assert [(a["name"], a.get("domain")) for a in accounts] == [("Acme Ltd", "acme.example")]
    assert accounts[0]["customFields"] == {"odooRef": "A-1"}
    ada_contact = people["ada@acme.example"]
    assert (ada_contact["givenName"], ada_contact["familyName"], ada_contact["title"]) == ("Ada", "Lovelace", "CTO")
    assert ada_contact["accountIds"] == [accounts[0]["id"]] and ada_contact["customFields"] == {"odooRef": "C-1"}

    # Running it again writes nothing: the cursor and the synced hashes say it is all there.
    again = sync(api, conn["id"])
    assert (again["createdCount"], again.get("updatedCount", 0)) == (0, 0), again
    odoo.tick()
    odoo.change("res.partner", ada, phone="+33 1 23 45 67 89")
    changed = sync(api, conn["id"])
    # Ada's change, and Eve again: written in the cursor's second, reread on purpose, still refused.
    assert (changed["fetchedCount"], changed.get("updatedCount", 0), changed["failedCount"]) == (2, 1, 1), changed
    assert contacts_by_email(api)["ada@acme.example"]["phone"] == "+33123456789"  # normalised by contacts
    assert len(contacts_by_email(api)) == 2 and len(api.get("/v1/accounts").json()["accounts"]) == 1

    # The refused partner is a dead letter; fixed in Odoo, a replay brings it in.
    [letter] = api.get(f"/v1/connections/{conn['id']}/deadLetters").json()["deadLetters"]
    assert letter["stream"] == "res.partner" and letter["externalId"] == str(broken) and "email" in letter["error"]
    odoo.change("res.partner", broken, email="eve@nowhere.example")
    replayed = api.post(f"/v1/connections/{conn['id']}/deadLetters/{letter['id']}:replay", json={}).json()
    assert replayed.get("resolveTime") and "eve@nowhere.example" in contacts_by_email(api)

    # Outbound: a contact made in the CRM becomes a partner under its account's company.
    cleo = api.post(
        "/v1/contacts",
        json={
            "givenName": "Cleo",
            "familyName": "Park",
            "email": "cleo@acme.example",
            "accountIds": [accounts[0]["id"]],
        },
    ).json()
    partner = wait_until(lambda: partner_by_email(odoo, "cleo@acme.example"), 30, "Cleo to reach Odoo")
    assert partner["name"] == "Cleo Park" and partner["parent_id"] == acme and partner["is_company"] is False
    patched = api.patch(f"/v1/contacts/{cleo['id']}", json={"title": "Buyer"}, params={"updateMask": "title"})
    assert patched.status_code == 200, patched.text
    wait_until(lambda: odoo.get("res.partner", partner["id"])["function"] == "Buyer", 30, "the title to reach Odoo")
    # No echo: what the sync brought in (Ada created, then her phone) was never written back.
    assert writes_to(odoo, ada) == 0 and partner_by_email(odoo, "bob@stone.example") is not None
    assert len([p for p in odoo.all("res.partner") if p.get("email") == "ada@acme.example"]) == 1
    # And Cleo's own partner write comes back to the next sync as unchanged.
    odoo.tick()
    quiet = sync(api, conn["id"])
    assert quiet.get("updatedCount", 0) == 0 and quiet["createdCount"] == 0, quiet

    # A rate limit on the way out is waited out (Retry-After), not lost.
    odoo.fail_next(
        "/json/2/res.partner/write",
        Reply(429, {"name": "TooManyRequests", "message": "slow down"}, {"Retry-After": "1"}),
    )
    phoned = api.patch(f"/v1/contacts/{cleo['id']}", json={"phone": "+44 20 7946 0123"}, params={"updateMask": "phone"})
    assert phoned.status_code == 200, phoned.text
    phone = phoned.json()["phone"]
    wait_until(lambda: odoo.get("res.partner", partner["id"])["phone"] == phone, 30, "the phone after a 429")
    assert writes_to(odoo, partner["id"]) >= 3  # title, the refused attempt, the retry

    # An outage outlasting the retries is a dead letter, replayed through the API once Odoo is back.
    outage = Reply(503, {"name": "werkzeug.exceptions.ServiceUnavailable", "message": "maintenance"})
    odoo.fail_next("/json/2/res.partner/write", outage, times=5)
    api.patch(f"/v1/contacts/{cleo['id']}", json={"title": "Head buyer"}, params={"updateMask": "title"})

    def outbound_letter() -> dict[str, Any] | None:
        found = api.get(f"/v1/connections/{conn['id']}/deadLetters").json()["deadLetters"]
        return next((d for d in found if d["stream"] == "res.partner:out" and not d.get("resolveTime")), None)

    dead = wait_until(outbound_letter, 60, "the failed write to become a dead letter")
    assert "503" in dead["error"] or "maintenance" in dead["error"]
    assert odoo.get("res.partner", partner["id"])["function"] == "Buyer"
    replay = api.post(f"/v1/connections/{conn['id']}/deadLetters/{dead['id']}:replay", json={}, timeout=60).json()
    assert replay.get("resolveTime"), replay
    assert odoo.get("res.partner", partner["id"])["function"] == "Head buyer"

    # A won deal becomes a sales order; the deal's accepted quote then gives it its lines, once.
    stage_list = [
        {"name": "Qualify", "probability": 10},
        {"name": "Won", "category": "WON"},
        {"name": "Lost", "category": "LOST"},
    ]
    made_pipeline = api.post("/v1/pipelines", json={"name": "Sales", "stages": stage_list})
    assert made_pipeline.status_code == 200, made_pipeline.text
    pipeline = made_pipeline.json()
    stages = {s["name"]: s["id"] for s in pipeline["stages"]}
    made_deal = api.post(
        "/v1/opportunities",
        json={
            "name": "Acme rollout",
            "pipelineId": pipeline["id"],
            "accountId": accounts[0]["id"],
            "amount": {"currencyCode": "EUR", "units": "1500", "nanos": 0},
        },
    )
    assert made_deal.status_code == 200, made_deal.text
    deal = made_deal.json()
    won = api.patch(
        f"/v1/opportunities/{deal['id']}",
        json={"stageId": stages["Won"], "closeReason": "fit"},
        params={"updateMask": "stageId,closeReason"},
    )
    assert won.status_code == 200, won.text

    def orders() -> list[dict[str, Any]]:
        return [o for o in odoo.all("sale.order") if o["client_order_ref"] == f"CRM opportunity:{deal['id']}"]

    [order] = wait_until(orders, 30, "the won deal's sales order")
    assert order["partner_id"] == acme and order["amount_total"] == 1500.0 and order["state"] == "draft"
    product = api.post(
        "/v1/products", json={"sku": "SEAT", "name": "Seat", "unitPrice": {"currencyCode": "EUR", "units": "100"}}
    ).json()
    quote = api.post(
        "/v1/quotes",
        json={
            "opportunityId": deal["id"],
            "lines": [
                {"productId": product["id"], "quantity": "12"},
                {"name": "Onboarding", "quantity": "1", "unitPrice": {"currencyCode": "EUR", "units": "300"}},
            ],
        },
    ).json()
    assert api.post(f"/v1/quotes/{quote['id']}:send", json={}).status_code == 200
    assert api.post(f"/v1/quotes/{quote['id']}:accept", json={}).status_code == 200
    wait_until(lambda: len(odoo.get("sale.order", order["id"])["order_line"]) == 2, 30, "the quote's lines")
    final = odoo.get("sale.order", order["id"])
    assert final["amount_total"] == 1500.0 and len(orders()) == 1
    lines = [odoo.get("sale.order.line", i) for i in final["order_line"]]
    assert sorted((line["name"], line["product_uom_qty"], line["price_unit"]) for line in lines) == [
        ("Onboarding", 1.0, 300.0),
        ("Seat", 12.0, 100.0),
    ]
    seat = odoo.get("product.product", next(line["product_id"] for line in lines if line["name"] == "Seat"))
    assert seat["default_code"] == "SEAT"


def test_an_older_odoo_is_reached_over_the_legacy_json_rpc(suite, legacy: OdooSimulator):  # type: ignore[no-untyped-def]
    api = Api(suite.base, suite.create_tenant("Odoo 17")["apiKey"])
    legacy.add("res.partner", name="Grace Hopper", email="grace@navy.example")
    conn = api.post("/v1/connections", json=connection(legacy)).json()
    check = api.post(f"/v1/connections/{conn['id']}:check", json={}, timeout=30).json()
    assert check["ok"] and [(s["name"], s["ok"]) for s in check["steps"]] == [
        ("json2", False),
        ("authenticate", True),
        ("read", True),
    ], check
    run = sync(api, conn["id"])
    assert run["createdCount"] == 1 and "grace@navy.example" in contacts_by_email(api)

    api.post("/v1/contacts", json={"givenName": "Alan", "familyName": "Turing", "email": "alan@bletchley.example"})
    partner = wait_until(lambda: partner_by_email(legacy, "alan@bletchley.example"), 30, "Alan to reach Odoo 17")
    assert partner["name"] == "Alan Turing"
    calls = [r.json()["params"] for r in legacy.seen("/jsonrpc")]
    assert {"service": "common", "method": "authenticate", "args": ["old", LOGIN, KEY, {}]} in calls
    assert any(c["method"] == "execute_kw" and c["args"][3:5] == ["res.partner", "create"] for c in calls)

    wrong = api.post("/v1/connections", json=connection(legacy, apiKey="not-the-key")).json()
    refused = api.post(f"/v1/connections/{wrong['id']}:check", json={}, timeout=30).json()
    assert not refused["ok"] and refused["steps"][-1]["name"] == "authenticate" and "not-the-key" not in str(refused)
