import pytest

from crmkit.errors import InvalidArgument
from gateway.routes import build_request, camel, discover, flask_rule_for


def route(name: str):
    return next(r for r in discover() if r.method.name == name)


def violations(error: InvalidArgument) -> dict[str, str]:
    return {v.field: v.description for v in error.violations}


def test_every_public_method_has_a_route_a_scope_and_a_backend():
    routes = discover()
    names = {r.method.name for r in routes}
    assert {"CreateContact", "GetContact", "ListContacts", "UpdateContact", "DeleteContact"} <= names
    assert {"GetAudienceMember", "ListAudienceMembers"} <= names
    for r in routes:
        assert r.scope or r.public, f"{r.full_method} has no required_scope option and is not public"
        assert r.backend in {"gateway", "contacts", "sales", "support", "marketing", "integrations"}


def test_no_two_routes_claim_the_same_method_and_path():
    seen = [(r.http_method, r.template) for r in discover()]
    assert len(seen) == len(set(seen))


def test_templates_become_flask_rules_that_stop_at_custom_verbs():
    assert flask_rule_for("/v1/contacts/{id}:merge") == ("/v1/contacts/<segment:p0>:merge", (("p0", "id"),))
    with pytest.raises(ValueError):
        flask_rule_for("/v1/{name=contacts/**}")


def test_a_patch_without_update_mask_changes_the_fields_in_the_body():
    request = build_request(route("UpdateContact"), {"p0": "C1"}, {}, {"givenName": "Ada", "tags": ["x"]})
    assert request.id == "C1"
    assert list(request.update_mask.paths) == ["given_name", "tags"]
    assert request.contact.given_name == "Ada"


def test_update_mask_from_the_query_in_either_case_wins_over_the_body():
    request = build_request(
        route("UpdateContact"), {"p0": "C1"}, {"updateMask": ["givenName,family_name"]}, {"givenName": "Ada"}
    )
    assert list(request.update_mask.paths) == ["given_name", "family_name"]


def test_if_match_sets_the_etag_on_the_resource_or_the_request():
    update = build_request(route("UpdateContact"), {"p0": "C1"}, {}, {"givenName": "A"}, 'W/"abc"')
    assert update.contact.etag == "abc"
    delete = build_request(route("DeleteContact"), {"p0": "C1"}, {}, None, '"abc"')
    assert delete.etag == "abc"


def test_unknown_fields_are_named_with_their_full_path():
    with pytest.raises(InvalidArgument) as caught:
        build_request(route("CreateContact"), {}, {}, {"givenName": "A", "shoeSize": 44, "tenantId": "T2"})
    assert violations(caught.value) == {"shoeSize": "unknown field", "tenantId": "unknown field"}


def test_wrong_types_name_the_field():
    with pytest.raises(InvalidArgument) as caught:
        build_request(route("CreateContact"), {}, {}, {"givenName": 5})
    assert list(violations(caught.value)) == ["givenName"]
    with pytest.raises(InvalidArgument) as caught:
        build_request(route("CreateContact"), {}, {}, {"lifecycleStage": "ROYALTY"})
    assert list(violations(caught.value)) == ["lifecycleStage"]


def test_a_body_that_is_not_an_object_is_refused():
    with pytest.raises(InvalidArgument) as caught:
        build_request(route("CreateContact"), {}, {}, ["a"])
    assert list(violations(caught.value)) == ["body"]


def test_query_parameters_are_typed_and_unknown_ones_refused():
    request = build_request(route("ListContacts"), {}, {"pageSize": ["20"], "page_token": ["t"]}, None)
    assert request.page_size == 20 and request.page_token == "t"
    with pytest.raises(InvalidArgument) as caught:
        build_request(route("ListContacts"), {}, {"pageSize": ["many"], "sort": ["x"]}, None)
    assert set(violations(caught.value)) == {"pageSize", "sort"}


def test_error_fields_are_reported_with_json_names():
    assert camel("given_name") == "givenName"
    assert camel("custom_fields.region_code") == "customFields.region_code"


def test_routes_carry_their_deadline_and_rate_class_from_the_proto():
    assert route("ListContacts").deadline == 10
    assert route("GetContact").deadline == 0, "0 means the gateway's default"
    assert {route(n).rate_class for n in ("GetContact", "ListContacts")} == {"read"}
    assert {route(n).rate_class for n in ("CreateContact", "UpdateContact", "DeleteContact")} == {"write"}


def test_boolean_query_parameters_take_true_or_false_in_any_case():
    assert build_request(route("CreateContact"), {}, {"allowDuplicateEmail": ["TRUE"]}, {}).allow_duplicate_email
    assert not build_request(route("CreateContact"), {}, {"allowDuplicateEmail": ["false"]}, {}).allow_duplicate_email
    with pytest.raises(InvalidArgument) as caught:
        build_request(route("CreateContact"), {}, {"allowDuplicateEmail": ["maybe"]}, {})
    assert list(violations(caught.value)) == ["allowDuplicateEmail"]


def test_a_server_streaming_method_is_a_streamed_route_of_its_declared_media_type():
    from gateway import openapi

    streamed = [r for r in discover() if r.streaming]
    assert sorted((r.http_method, r.template, r.stream_content_type) for r in streamed) == [
        ("GET", "/v1/contacts:export", "text/csv"),
        ("GET", "/v1/tracking/opens/{token}", "image/gif"),
        ("GET", "/v1/tracking/unsubscribes/{token}", "text/html"),
    ]
    operation = openapi.document(discover())["paths"]["/v1/contacts:export"]["get"]
    assert list(operation["responses"]["200"]["content"]) == ["text/csv"]


def test_a_method_answering_a_redirect_is_a_302_route_and_public_bodies_also_take_forms():
    from gateway import openapi

    [click] = [r for r in discover() if r.redirects]
    assert (click.http_method, click.template, click.public) == ("GET", "/v1/tracking/clicks/{token}", True)
    document = openapi.document(discover())
    responses = document["paths"]["/v1/tracking/clicks/{token}"]["get"]["responses"]
    assert "200" not in responses and "Location" in responses["302"]["headers"]
    unsubscribe = document["paths"]["/v1/tracking/unsubscribes/{token}"]["post"]["requestBody"]["content"]
    assert set(unsubscribe) == {"application/json", "application/x-www-form-urlencoded"}
    request = build_request(
        route("Unsubscribe"), {"p0": "t"}, {}, {"List-Unsubscribe": "One-Click"}
    )  # a field with an explicit json_name is known by it
    assert request.list_unsubscribe == "One-Click"


def test_an_httpbody_body_gets_the_raw_bytes_and_named_headers_are_forwarded():
    from gateway import openapi
    from gateway.routes import RawBody

    webhook = route("ReceiveWebhook")
    assert webhook.public and webhook.raw_body and webhook.raw_response and not webhook.streaming
    assert webhook.forward_headers == ("intuit-signature", "x-xero-signature")
    assert not route("UpdateContact").raw_body and route("UpdateContact").forward_headers == ()
    raw = b'{"b":1,  "a":2}'  # exactly these bytes, spacing and key order included
    request = build_request(webhook, {"p0": "CONN1"}, {}, RawBody("application/json", raw))
    assert (request.connection_id, request.body.data, request.body.content_type) == ("CONN1", raw, "application/json")
    operation = openapi.document(discover())["paths"]["/v1/connections/{connectionId}:receiveWebhook"]["post"]
    headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
    assert headers == ["intuit-signature", "x-xero-signature"] and operation["security"] == []
    assert "content" not in operation["responses"]["200"]
