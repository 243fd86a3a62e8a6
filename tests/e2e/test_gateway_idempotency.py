"""Writes are safe to retry: `Idempotency-Key` on POST and PATCH, kept in Redis for 24 h."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.support import Api


@pytest.fixture
def api(partner):
    return Api(partner.base, partner.create_tenant(f"Idem {uuid.uuid4().hex[:6]}")["apiKey"])


def contacts(api: Api) -> list[dict]:
    return api.get("/v1/contacts", params={"pageSize": 1000}).json()["contacts"]


def test_the_same_key_and_body_replays_the_first_response_without_redoing_the_work(api):
    headers = {"Idempotency-Key": "create-ada-1"}
    first = api.post("/v1/contacts", json={"givenName": "Ada"}, headers=headers)
    again = api.post("/v1/contacts", json={"givenName": "Ada"}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert again.headers["ETag"] == first.headers["ETag"]
    assert [c["id"] for c in contacts(api)] == [first.json()["id"]]


def test_the_same_key_with_a_different_body_is_422(api):
    headers = {"Idempotency-Key": "k-422"}
    assert api.post("/v1/contacts", json={"givenName": "Ada"}, headers=headers).status_code == 200
    other = api.post("/v1/contacts", json={"givenName": "Grace"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == 422 and "Idempotency-Key" in other.json()["error"]["message"]
    assert len(contacts(api)) == 1


def test_a_patch_is_replayed_too_and_keys_are_per_credential(partner, api):
    contact = api.post("/v1/contacts", json={"givenName": "Ada"}).json()
    headers = {"Idempotency-Key": "rename"}
    first = api.patch(f"/v1/contacts/{contact['id']}", json={"title": "Countess"}, headers=headers)
    replay = api.patch(f"/v1/contacts/{contact['id']}", json={"title": "Countess"}, headers=headers)
    assert replay.json() == first.json() and replay.headers["Idempotent-Replayed"] == "true"
    stranger = Api(partner.base, partner.create_tenant("Stranger")["apiKey"])
    own = stranger.post("/v1/contacts", json={"givenName": "Zed"}, headers={"Idempotency-Key": "rename"})
    assert own.status_code == 200 and "Idempotent-Replayed" not in own.headers


def test_a_failed_request_is_replayed_as_it_failed(api):
    headers = {"Idempotency-Key": "missing"}
    first = api.patch("/v1/contacts/01NOSUCHCONTACT00000000000", json={"title": "X"}, headers=headers)
    replay = api.patch("/v1/contacts/01NOSUCHCONTACT00000000000", json={"title": "X"}, headers=headers)
    assert first.status_code == replay.status_code == 404
    assert replay.json() == first.json() and replay.headers["Idempotent-Replayed"] == "true"


def test_concurrent_requests_with_one_key_execute_once(api):
    headers = {"Idempotency-Key": "burst"}
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(
            pool.map(lambda _: api.post("/v1/contacts", json={"givenName": "Once"}, headers=headers), range(8))
        )
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 409} and 200 in statuses, statuses
    assert len({r.json()["id"] for r in responses if r.status_code == 200}) == 1
    for conflict in (r for r in responses if r.status_code == 409):
        assert conflict.json()["error"]["status"] == "ABORTED" and conflict.headers["Retry-After"]
    assert len(contacts(api)) == 1


def test_a_malformed_key_is_400_naming_the_header(api):
    response = api.post("/v1/contacts", json={"givenName": "A"}, headers={"Idempotency-Key": "has space"})
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "Idempotency-Key"
    assert contacts(api) == []
