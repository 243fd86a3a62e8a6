"""The OpenAPI 3.1 document, generated from the same descriptors the routes come from."""

from __future__ import annotations

from typing import Any

from google.api import field_behavior_pb2
from google.protobuf import descriptor

from gateway.routes import Route

FD = descriptor.FieldDescriptor
SCALARS: dict[int, dict[str, Any]] = {
    FD.TYPE_STRING: {"type": "string"},
    FD.TYPE_BOOL: {"type": "boolean"},
    FD.TYPE_INT32: {"type": "integer", "format": "int32"},
    FD.TYPE_SINT32: {"type": "integer", "format": "int32"},
    FD.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    FD.TYPE_UINT32: {"type": "integer", "format": "int64", "minimum": 0},
    FD.TYPE_FIXED32: {"type": "integer", "format": "int64", "minimum": 0},
    # 64-bit integers are strings in protobuf's JSON mapping.
    FD.TYPE_INT64: {"type": "string", "format": "int64"},
    FD.TYPE_SINT64: {"type": "string", "format": "int64"},
    FD.TYPE_SFIXED64: {"type": "string", "format": "int64"},
    FD.TYPE_UINT64: {"type": "string", "format": "uint64"},
    FD.TYPE_FIXED64: {"type": "string", "format": "uint64"},
    FD.TYPE_DOUBLE: {"type": "number", "format": "double"},
    FD.TYPE_FLOAT: {"type": "number", "format": "float"},
    FD.TYPE_BYTES: {"type": "string", "format": "byte"},
}
WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?s$"},
    "google.protobuf.FieldMask": {"type": "string", "description": "Comma-separated field paths."},
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Any": {"type": "object", "additionalProperties": True},
}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "status", "message"],
            "properties": {
                "code": {"type": "integer"},
                "status": {"type": "string"},
                "message": {"type": "string"},
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"field": {"type": "string"}, "description": {"type": "string"}},
                    },
                },
            },
        }
    },
}
ERROR_STATUSES = {
    "400": "The request is malformed or a field is invalid; `details` names the fields.",
    "401": "Missing or invalid credentials.",
    "403": "The credentials lack the required scope.",
    "404": "No such resource in the caller's tenant.",
    "409": "Conflict: the resource changed (etag) or already exists.",
    "413": "The request body is too large.",
    "405": "The HTTP method is not allowed on this path.",
    "415": "The request body is not JSON.",
    "422": "The Idempotency-Key was already used for a different request.",
    "429": "Rate limit exceeded; see Retry-After.",
    "503": "A service is unavailable; retry after Retry-After.",
    "504": "A service did not answer in time.",
}

# The gateway's own endpoints, which no proto describes.
_PUBLIC: dict[str, Any] = {"security": [], "tags": ["Gateway"]}
GATEWAY_SCHEMAS: dict[str, Any] = {
    "OAuthToken": {
        "type": "object",
        "required": ["access_token", "token_type", "expires_in", "scope"],
        "properties": {
            "access_token": {"type": "string"},
            "token_type": {"type": "string", "enum": ["Bearer"]},
            "expires_in": {"type": "integer"},
            "scope": {"type": "string", "description": "Space-separated scopes the token carries."},
        },
    },
    "OAuthError": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
        "description": "RFC 6749 section 5.2 error response.",
    },
    "JsonWebKeySet": {
        "type": "object",
        "required": ["keys"],
        "properties": {"keys": {"type": "array", "items": {"type": "object", "additionalProperties": True}}},
    },
}


def _json(ref: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


GATEWAY_PATHS: dict[str, dict[str, Any]] = {
    "/oauth/token": {
        "post": {
            **_PUBLIC,
            "operationId": "IssueAccessToken",
            "summary": "OAuth2 client-credentials grant (RFC 6749 section 4.4).",
            "description": "Client id and secret by HTTP Basic or in the form; `scope` narrows the grant.",
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "required": ["grant_type"],
                            "properties": {
                                "grant_type": {"type": "string", "enum": ["client_credentials"]},
                                "scope": {"type": "string"},
                                "client_id": {"type": "string"},
                                "client_secret": {"type": "string"},
                            },
                        }
                    }
                },
            },
            "responses": {
                "200": _json("#/components/schemas/OAuthToken", "An access token (a JWT signed with EdDSA)."),
                "400": _json("#/components/schemas/OAuthError", "Bad grant type or scope."),
                "401": _json("#/components/schemas/OAuthError", "Unknown client or wrong secret."),
            },
        }
    },
    "/.well-known/jwks.json": {
        "get": {
            **_PUBLIC,
            "operationId": "GetSigningKeys",
            "summary": "The public keys that verify the gateway's access tokens (RFC 7517).",
            "responses": {"200": _json("#/components/schemas/JsonWebKeySet", "The current and previous keys.")},
        }
    },
    "/healthz": {
        "get": {
            **_PUBLIC,
            "operationId": "Liveness",
            "summary": "The gateway process is alive.",
            "responses": {"200": {"description": "Alive."}},
        }
    },
    "/readyz": {
        "get": {
            **_PUBLIC,
            "operationId": "Readiness",
            "summary": "The gateway can serve; each backend's health is reported, not required.",
            "responses": {"200": {"description": "Ready."}, "503": {"description": "Not ready."}},
        }
    },
}


def document(routes: tuple[Route, ...], title: str = "CRM suite API", version: str = "v1") -> dict[str, Any]:
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        path = route.template
        for _, field_path in route.path_fields:
            path = path.replace(f"{{{field_path}}}", f"{{{_json_path(route, field_path)}}}")
        paths.setdefault(path, {})[route.http_method.lower()] = _operation(route, schemas)
    paths.update(GATEWAY_PATHS)
    schemas.update(GATEWAY_SCHEMAS)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": "Generated from protos/; do not edit."},
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An API key."}},
        },
        "security": [{"bearer": []}],
    }


def _operation(route: Route, schemas: dict[str, Any]) -> dict[str, Any]:
    request = route.method.input_type
    parameters = [
        {
            "name": _json_path(route, path),
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": "^[^/:]+$"},
        }
        for _, path in route.path_fields
    ]
    for field in route.query_fields:
        parameters.append(
            {"name": field.json_name, "in": "query", "required": False, "schema": _field_schema(field, schemas)}
        )
    for name in route.forward_headers:
        parameters.append({"name": name, "in": "header", "required": False, "schema": {"type": "string"}})
    responses: dict[str, Any] = {
        "200": {
            "description": "OK",
            "content": {"application/json": {"schema": _ref(route.method.output_type, schemas)}},
        }
    }
    if route.redirects:  # crm.common.v1.Redirect: 302 to the reply's location, no body
        responses = {
            "302": {
                "description": "Found: follow Location",
                "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
            }
        }
    if route.raw_response:  # google.api.HttpBody: the bytes the method answers, often none
        responses["200"] = {"description": "OK"}
    if route.streaming:  # google.api.HttpBody pieces, streamed as one body (e.g. text/csv)
        responses["200"] = {
            "description": "OK, streamed",
            "content": {route.stream_content_type: {"schema": {"type": "string"}}},
        }
    for code, text in ERROR_STATUSES.items():
        responses[code] = {
            "description": text,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    operation: dict[str, Any] = {
        "operationId": route.method.name,
        "tags": [route.method.containing_service.name],
        "summary": route.method.name,
        "parameters": parameters,
        "responses": responses,
        "x-required-scope": route.scope,
    }
    if route.public:
        operation["security"] = []  # no credentials
    if route.raw_body:  # google.api.HttpBody: the bytes as sent (a signed webhook)
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    elif route.body:
        body_type = request if route.body == "*" else request.fields_by_name[route.body].message_type
        content = {"application/json": {"schema": _ref(body_type, schemas)}}
        if route.public:  # also an HTML form's or a mail client's post (gateway/app.py read_body)
            content["application/x-www-form-urlencoded"] = {"schema": _ref(body_type, schemas)}
        operation["requestBody"] = {"required": True, "content": content}
    return operation


def _json_path(route: Route, path: str) -> str:
    message = route.method.input_type
    names = []
    for part in path.split("."):
        field = message.fields_by_name[part]
        names.append(field.json_name)
        message = field.message_type
    return ".".join(names)


def _ref(message: descriptor.Descriptor, schemas: dict[str, Any]) -> dict[str, Any]:
    if message.full_name in WELL_KNOWN:
        return dict(WELL_KNOWN[message.full_name])
    if message.full_name == "google.protobuf.Empty":
        return {"type": "object", "additionalProperties": False}
    name = message.full_name
    if name not in schemas:
        schemas[name] = {}  # placeholder first: recursive messages terminate
        schemas[name] = _message_schema(message, schemas)
    return {"$ref": f"#/components/schemas/{name}"}


def _message_schema(message: descriptor.Descriptor, schemas: dict[str, Any]) -> dict[str, Any]:
    properties = {}
    for field in message.fields:
        schema = _field_schema(field, schemas)
        behaviors = field.GetOptions().Extensions[field_behavior_pb2.field_behavior]
        if field_behavior_pb2.OUTPUT_ONLY in behaviors:
            schema = {**schema, "readOnly": True}
        properties[field.json_name] = schema
    return {"type": "object", "properties": properties, "additionalProperties": False}


def _field_schema(field: descriptor.FieldDescriptor, schemas: dict[str, Any]) -> dict[str, Any]:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        value_field = field.message_type.fields_by_name["value"]
        return {"type": "object", "additionalProperties": _single_schema(value_field, schemas)}
    single = _single_schema(field, schemas)
    repeated = field.is_repeated if hasattr(field, "is_repeated") else field.label == field.LABEL_REPEATED
    return {"type": "array", "items": single} if repeated else single


def _single_schema(field: descriptor.FieldDescriptor, schemas: dict[str, Any]) -> dict[str, Any]:
    if field.enum_type is not None:
        return {"type": "string", "enum": [v.name for v in field.enum_type.values]}
    if field.message_type is not None:
        return _ref(field.message_type, schemas)
    return dict(SCALARS[field.type])
