"""Accounts, associations and custom fields through the gateway (REST): bad input is a 400 naming
the field in camelCase, and nothing is written."""

from __future__ import annotations

import pytest

from tests.e2e.support import Api

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def api(partner) -> Api:
    # A tenant of its own: custom-field definitions make its custom fields strict.
    return Api(partner.base, partner.create_tenant("Accounts")["apiKey"])


def field_of(response) -> list[str]:
    assert response.status_code == 400, response.text
    return [d["field"] for d in response.json()["error"]["details"]]


def test_accounts_associations_and_custom_fields_over_rest(api, partner):
    account = api.post("/v1/accounts", json={"name": "Acme", "domain": "HTTPS://Acme.COM/about"})
    assert account.status_code == 200, account.text
    assert account.json()["domain"] == "acme.com"
    acme = account.json()["id"]
    assert field_of(api.post("/v1/accounts", json={"name": "Bad", "domain": "acme"})) == ["domain"]
    seg = api.post("/v1/customFieldDefinitions", json={"objectType": "CONTACT", "key": "seats", "type": "NUMBER"})
    assert seg.status_code == 200, seg.text
    other = Api(partner.base, partner.create_tenant("Elsewhere")["apiKey"])
    foreign = other.post("/v1/accounts", json={"name": "Theirs"}).json()["id"]

    before = api.get("/v1/contacts").json().get("contacts", [])
    bad = [
        ({"givenName": "A", "customFields": {"nope": 1}}, ["customFields.nope"]),
        ({"givenName": "A", "customFields": {"seats": "ten"}}, ["customFields.seats"]),
        ({"givenName": "A", "accountAssociations": [{"accountId": foreign}]}, ["accountAssociations[0].accountId"]),
        (
            {
                "givenName": "A",
                "accountAssociations": [{"accountId": acme, "primary": True}, {"accountId": foreign, "primary": True}],
            },
            ["accountAssociations[1].primary"],
        ),
    ]
    for body, fields in bad:
        assert sorted(field_of(api.post("/v1/contacts", json=body))) == sorted(fields), body
    assert api.get("/v1/contacts").json().get("contacts", []) == before

    made = api.post(
        "/v1/contacts",
        json={
            "givenName": "Ada",
            "customFields": {"seats": 12},
            "accountAssociations": [{"accountId": acme, "label": "decision maker", "primary": True}],
        },
    )
    assert made.status_code == 200, made.text
    assert made.json()["accountIds"] == [acme]
    found = api.get("/v1/contacts", params={"q": "acme", "filter": "customFields.seats > 9"}).json()["contacts"]
    assert [c["id"] for c in found] == [made.json()["id"]]
    patched = api.patch(
        f"/v1/contacts/{made.json()['id']}",
        json={"accountAssociations": [{"accountId": acme, "label": "billing"}]},
        params={"updateMask": "accountAssociations"},
    )
    assert patched.status_code == 200, patched.text
    [association] = patched.json()["accountAssociations"]
    assert (association["accountId"], association["label"], association.get("primary", False)) == (
        acme,
        "billing",
        False,
    )


def test_several_emails_and_phones_over_rest(api):
    ada = api.post(
        "/v1/contacts",
        json={"givenName": "Ada", "email": "ada@several.example", "additionalEmails": ["Ada@Work.Example"]}
        | {"additionalPhones": ["+1 415 555 0123"]},
    )
    assert ada.status_code == 200, ada.text
    assert (ada.json()["additionalEmails"], ada.json()["additionalPhones"]) == (["Ada@work.example"], ["+14155550123"])
    before = api.get("/v1/contacts", params={"q": "several"}).json()["contacts"]
    bad = api.post("/v1/contacts", json={"givenName": "B", "additionalEmails": ["b@ok.example", "not-an-address"]})
    assert field_of(bad) == ["additionalEmails[1]"]
    taken = api.post("/v1/contacts", json={"givenName": "C", "email": "ADA@work.example"})
    assert taken.status_code == 409 and ada.json()["id"] in taken.json()["error"]["message"]
    assert api.get("/v1/contacts", params={"q": "several"}).json()["contacts"] == before  # nothing written
    found = api.get("/v1/contacts", params={"q": "ada@work.example"}).json()["contacts"]
    assert [c["id"] for c in found] == [ada.json()["id"]]
