import re

from gateway.openapi import document
from gateway.routes import camel, discover


def test_every_route_is_documented_with_its_scope_and_error_responses():
    spec = document(discover())
    for route in discover():
        # Path variables appear under their JSON names: {contact_id} -> {contactId}.
        path = re.sub(r"\{(\w+)\}", lambda m: "{" + camel(m.group(1)) + "}", route.template)
        operation = spec["paths"][path][route.http_method.lower()]
        assert operation["operationId"] == route.method.name
        assert operation["x-required-scope"] == route.scope
        success = "302" if route.redirects else "200"
        assert {success, "400", "401", "403", "404"} <= set(operation["responses"])


def test_every_schema_reference_resolves():
    spec = document(discover())
    text = repr(spec)
    for name in re.findall(r"#/components/schemas/([\w.]+)", text):
        assert name in spec["components"]["schemas"], name


def test_json_names_types_and_read_only_fields_follow_protobufs_json_mapping():
    contact = document(discover())["components"]["schemas"]["crm.contacts.v1.Contact"]["properties"]
    assert contact["givenName"] == {"type": "string"}
    assert contact["createTime"]["format"] == "date-time" and contact["createTime"]["readOnly"] is True
    assert contact["id"]["readOnly"] is True
    assert "CUSTOMER" in contact["lifecycleStage"]["enum"]
    assert contact["customFields"]["type"] == "object"


def test_path_parameters_use_json_names():
    spec = document(discover())
    parameters = spec["paths"]["/v1/audienceMembers/{contactId}"]["get"]["parameters"]
    assert parameters[0]["name"] == "contactId" and parameters[0]["in"] == "path"


def test_the_gateways_own_endpoints_are_documented_without_credentials():
    spec = document(discover())
    token = spec["paths"]["/oauth/token"]["post"]
    assert token["security"] == []
    assert "application/x-www-form-urlencoded" in token["requestBody"]["content"]
    assert set(token["responses"]) == {"200", "400", "401"}
    assert spec["paths"]["/.well-known/jwks.json"]["get"]["security"] == []
    for path in ("/healthz", "/readyz"):
        assert path in spec["paths"]


def test_statuses_the_gateway_itself_answers_are_documented():
    operation = document(discover())["paths"]["/v1/contacts"]["post"]
    assert {"405", "413", "415", "422", "429", "503", "504"} <= set(operation["responses"])
