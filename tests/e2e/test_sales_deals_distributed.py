"""Sales deals end to end: pipelines, opportunities, forecast and quotes through the gateway, with
the sales, contacts and relay targets as separate processes on PostgreSQL and RabbitMQ."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.e2e.support import Api, ModuleView, wait_until

pytestmark = pytest.mark.e2e

PIPELINE = {
    "name": "Sales",
    "stages": [
        {"name": "Qualify", "probability": 10},
        {"name": "Proposal", "probability": 60, "requiredFields": ["amount", "closeDate"]},
        {"name": "Won", "category": "WON"},
        {"name": "Lost", "category": "LOST"},
    ],
}


def usd(units: str, code: str = "USD") -> dict[str, object]:
    return {"currencyCode": code, "units": units, "nanos": 0}


@pytest.fixture(scope="module")
def suite(shared_suite):
    """The shared distributed suite (tests/e2e/conftest.py), seen by this module with its own tenant."""
    suite = ModuleView(shared_suite)
    suite.sales_db = suite.database_template.replace("{service}", "sales")
    suite.key = suite.create_tenant("Deals")["apiKey"]
    return suite


@pytest.fixture(scope="module")
def api(suite):
    return Api(suite.base, suite.key)


def fields(response) -> set[str]:
    assert response.status_code == 400, response.text
    return {d["field"] for d in response.json()["error"]["details"]}


def test_bad_input_is_400_naming_the_field_and_writes_nothing(api):
    pipeline = api.post("/v1/pipelines", json=PIPELINE).json()
    stages = {s["name"]: s["id"] for s in pipeline["stages"]}
    assert fields(api.post("/v1/pipelines", json={"name": "X", "stages": [{"name": "A"}]})) == {"stages"}

    unknown = api.post("/v1/opportunities", json={"name": "D", "pipelineId": pipeline["id"], "stageId": "NOPE"})
    assert fields(unknown) == {"stageId"}
    assert "NOPE" in unknown.json()["error"]["message"]
    assert api.get("/v1/opportunities").json().get("opportunities", []) == []

    deal = api.post("/v1/opportunities", json={"name": "D", "pipelineId": pipeline["id"]}).json()
    missing = api.patch(
        f"/v1/opportunities/{deal['id']}",
        json={"stageId": stages["Proposal"], "amount": usd("100")},
        params={"updateMask": "stageId,amount"},
    )
    assert fields(missing) == {"closeDate"}
    assert api.get(f"/v1/opportunities/{deal['id']}").json()["etag"] == deal["etag"]
    assert len(api.get(f"/v1/opportunities/{deal['id']}/stageHistory").json()["entries"]) == 1

    product = api.post("/v1/products", json={"sku": "S-1", "name": "Seat", "unitPrice": usd("10")}).json()
    quote = {
        "opportunityId": deal["id"],
        "currencyCode": "USD",
        "lines": [
            {"productId": product["id"], "quantity": "-2"},
            {"name": "Setup", "quantity": "1", "unitPrice": usd("100")},
            {"name": "Travel", "quantity": "1", "unitPrice": usd("50", "EUR")},
        ],
    }
    assert fields(api.post("/v1/quotes", json=quote)) == {"lines[0].quantity", "lines[2].unitPrice.currencyCode"}
    assert api.get("/v1/quotes").json().get("quotes", []) == []


def test_a_deal_is_won_forecast_and_quoted_over_rest(suite, api):
    pipeline = api.post("/v1/pipelines", json={**PIPELINE, "name": "Enterprise"}).json()
    stages = {s["name"]: s["id"] for s in pipeline["stages"]}
    contact = api.post("/v1/contacts", json={"givenName": "Ada"}).json()
    bad_contact = api.post(
        "/v1/opportunities", json={"name": "D", "pipelineId": pipeline["id"], "contactId": "01NOTACONTACT"}
    )
    assert fields(bad_contact) == {"contactId"}  # checked with the contacts service over gRPC
    deal = api.post(
        "/v1/opportunities",
        json={
            "name": "Big deal",
            "pipelineId": pipeline["id"],
            "contactId": contact["id"],
            "amount": usd("1200"),
            "closeDate": {"year": 2027, "month": 5, "day": 20},
        },
    ).json()
    assert deal["stageName"] == "Qualify" and deal["amount"] == usd("1200")
    forecast = api.get("/v1/salesForecast", params={"pipelineId": pipeline["id"], "period": "QUARTER"}).json()
    [row] = forecast["rows"]
    assert row["period"] == "2027-Q2" and row["weightedAmount"] == usd("120")

    won = api.patch(f"/v1/opportunities/{deal['id']}", json={"stageId": stages["Won"], "closeReason": "fit"})
    assert won.status_code == 200, won.text
    assert won.json()["forecastCategory"] == "CLOSED"
    [row] = api.get("/v1/salesForecast", params={"pipelineId": pipeline["id"]}).json()["rows"]
    assert row["closedAmount"] == usd("1200") and row["winRate"] == 1

    quote = api.post(
        "/v1/quotes",
        json={"opportunityId": deal["id"], "lines": [{"name": "Licence", "quantity": "3", "unitPrice": usd("400")}]},
    ).json()
    assert quote["grandTotal"] == usd("1200") and quote["status"] == "DRAFT"
    assert api.post(f"/v1/quotes/{quote['id']}:accept", json={}).status_code == 400  # not sent yet
    assert api.post(f"/v1/quotes/{quote['id']}:send", json={}).status_code == 200
    assert api.post(f"/v1/quotes/{quote['id']}:accept", json={}).json()["status"] == "ACCEPTED"

    # Created, stage changed, won and the accepted quote all leave through the relay.
    engine = sa.create_engine(suite.sales_db)

    def relayed() -> list[str]:
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT event_type FROM outbox WHERE sent_at IS NOT NULL ORDER BY id"))
            return [r[0].rsplit(".", 1)[-1] for r in rows]

    try:
        wait_until(lambda: "QuoteAccepted" in relayed(), 20, "the relay to publish QuoteAccepted")
        assert {"OpportunityCreated", "OpportunityStageChanged", "OpportunityWon"} <= set(relayed())
    finally:
        engine.dispose()
