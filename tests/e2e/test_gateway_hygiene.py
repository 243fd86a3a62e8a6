"""What every response of the gateway (gunicorn) promises, whatever the request: the error shape,
security headers, CORS for configured origins only, and nothing internal in the body."""

from __future__ import annotations

import re

import pytest
import requests

from tests.e2e.conftest import CORS_ORIGIN
from tests.e2e.support import Api

INTERNAL = re.compile(r"Traceback|File \"|127\.0\.0\.1|ipv4:|localhost|sqlalchemy|psycopg|grpc\._channel", re.I)


def assert_error_shape(response: requests.Response, code: int, status: str) -> dict:
    assert response.status_code == code, response.text
    assert response.headers["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (code, status)
    assert isinstance(error["message"], str) and error["message"]
    assert not INTERNAL.search(response.text), response.text
    return error


def test_a_body_over_the_limit_is_413_every_time_never_a_dropped_connection(acme_api):
    for _ in range(8):
        response = acme_api.post("/v1/contacts", json={"givenName": "x" * 70000})
        assert_error_shape(response, 413, "RESOURCE_EXHAUSTED")


def test_malformed_json_unknown_fields_and_wrong_types_are_400_naming_the_field(acme_api):
    malformed = acme_api.post("/v1/contacts", data="{", headers={"Content-Type": "application/json"})
    assert "JSON" in assert_error_shape(malformed, 400, "INVALID_ARGUMENT")["message"]
    unknown = acme_api.post("/v1/contacts", json={"givenName": "Ada", "shoeSize": 44})
    assert assert_error_shape(unknown, 400, "INVALID_ARGUMENT")["details"] == [
        {"field": "shoeSize", "description": "unknown field"}
    ]
    wrong_type = acme_api.post("/v1/contacts", json={"givenName": ["Ada"]})
    assert [d["field"] for d in assert_error_shape(wrong_type, 400, "INVALID_ARGUMENT")["details"]] == ["givenName"]
    unknown_query = acme_api.get("/v1/contacts", params={"pageSise": 5})
    assert assert_error_shape(unknown_query, 400, "INVALID_ARGUMENT")["details"][0]["field"] == "pageSise"
    not_an_object = acme_api.post("/v1/contacts", json=["Ada"])
    assert assert_error_shape(not_an_object, 400, "INVALID_ARGUMENT")["details"][0]["field"] == "body"


def test_a_body_that_is_not_json_is_415(acme_api):
    response = acme_api.post("/v1/contacts", data="<contact/>", headers={"Content-Type": "application/xml"})
    assert_error_shape(response, 415, "INVALID_ARGUMENT")
    # Form bodies are for public routes only (HTML forms, RFC 8058 one-click unsubscribes).
    form = acme_api.post("/v1/contacts", data={"givenName": "Ada"})
    assert_error_shape(form, 415, "INVALID_ARGUMENT")


def test_unknown_routes_and_methods_answer_in_the_error_shape(partner, acme_api):
    assert_error_shape(acme_api.get("/v1/nowhere"), 404, "NOT_FOUND")
    assert_error_shape(acme_api.put("/v1/contacts", json={}), 405, "UNIMPLEMENTED")
    assert_error_shape(Api(partner.base, None).get("/v1/contacts"), 401, "UNAUTHENTICATED")


@pytest.mark.parametrize("path", ["/v1/contacts", "/v1/nowhere", "/healthz", "/openapi.json"])
def test_every_response_carries_the_security_headers_and_a_request_id(acme_api, path):
    response = acme_api.get(path)
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,128}", headers["X-Request-Id"])


def test_a_configured_origin_may_call_from_a_browser_and_others_may_not(partner, acme_api):
    preflight = requests.options(
        partner.base + "/v1/contacts",
        headers={
            "Origin": CORS_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
        timeout=5,
    )
    assert preflight.status_code in (200, 204)
    assert preflight.headers["Access-Control-Allow-Origin"] == CORS_ORIGIN
    assert "idempotency-key" in preflight.headers["Access-Control-Allow-Headers"].lower()
    actual = acme_api.get("/v1/contacts", headers={"Origin": CORS_ORIGIN})
    assert actual.headers["Access-Control-Allow-Origin"] == CORS_ORIGIN
    assert "ratelimit-remaining" in actual.headers["Access-Control-Expose-Headers"].lower()

    foreign = acme_api.get("/v1/contacts", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in foreign.headers
    foreign_preflight = requests.options(
        partner.base + "/v1/contacts",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "DELETE"},
        timeout=5,
    )
    assert "Access-Control-Allow-Origin" not in foreign_preflight.headers


def test_a_request_id_from_the_caller_is_kept_and_a_hostile_one_replaced(acme_api):
    assert acme_api.get("/v1/contacts", headers={"X-Request-Id": "abc-123"}).headers["X-Request-Id"] == "abc-123"
    replaced = acme_api.get("/v1/contacts", headers={"X-Request-Id": "a b\tc<script>"}).headers["X-Request-Id"]
    assert replaced != "a b\tc<script>" and re.fullmatch(r"[0-9a-f]{32}", replaced)
