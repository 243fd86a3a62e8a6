"""REST routes derived from the `google.api.http` annotations in protos/ — never written by hand.

Each annotated method of a service that names its backend (crm.common.v1.backend) becomes a Route;
requests are built from path variables, query parameters and the JSON body exactly as the
HttpRule says (the mapping Envoy's gRPC-JSON transcoder and grpc-gateway implement).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crm.common.v1 import options_pb2
from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor, json_format, message_factory
from google.protobuf.message import Message

from crmkit.config import RATE_CLASSES
from crmkit.errors import FieldViolation, InvalidArgument
from crmkit.protos import generated_modules

TEMPLATE_VARIABLE = re.compile(r"\{([A-Za-z0-9_.]+)(?:=([^}]*))?\}")
HTTP_METHODS = ("get", "post", "put", "patch", "delete")
HTTP_BODY = "google.api.HttpBody"
# A method answering this is answered with `302 Found` and its `location` (crm/common/v1/redirect.proto).
REDIRECT = "crm.common.v1.Redirect"
# Messages whose JSON form is not an object of their fields (protobuf's JSON mapping).
WELL_KNOWN_SCALARS = {
    "google.protobuf.Timestamp",
    "google.protobuf.Duration",
    "google.protobuf.FieldMask",
    "google.protobuf.Struct",
    "google.protobuf.Value",
    "google.protobuf.ListValue",
    "google.protobuf.Any",
}


@dataclass(frozen=True)
class RawBody:
    """A request body passed on as bytes (a route whose body field is google.api.HttpBody)."""

    content_type: str
    data: bytes


@dataclass(frozen=True)
class Route:
    """One REST route. What it derives from its method's descriptor is worked out once per route
    (cached properties), not on every request."""

    http_method: str
    template: str
    flask_rule: str
    # Flask variable name -> request field path, for each {variable} of the template.
    path_fields: tuple[tuple[str, str], ...]
    body: str
    method: descriptor.MethodDescriptor
    scope: str
    backend: str
    # Seconds; 0 means the gateway's default deadline (crm.common.v1.deadline_seconds).
    deadline: float = 0.0
    # read, write, search or bulk (crm.common.v1.rate_class, else from the HTTP method).
    rate_class: str = "read"
    # Callable without credentials (crm.common.v1.public): the gateway calls it as an anonymous
    # principal, rate-limited per client address.
    public: bool = False

    @functools.cached_property
    def streaming(self) -> bool:
        """A server-streaming method answering google.api.HttpBody pieces: the gateway passes them
        on as one streamed HTTP response of their content type (e.g. a CSV export)."""
        return bool(self.method.server_streaming)

    @functools.cached_property
    def redirects(self) -> bool:
        """Answered as `302 Found` to the reply's `location` (e.g. a tracked link), with no body."""
        return bool(self.method.output_type.full_name == REDIRECT)

    @property
    def stream_content_type(self) -> str:
        option = self.method.GetOptions().Extensions[options_pb2.stream_content_type]
        return option or "application/octet-stream"

    @functools.cached_property
    def raw_body(self) -> bool:
        """The body field is a google.api.HttpBody: the request's bytes reach the service untouched
        (with their content type), as Envoy's transcoder and grpc-gateway pass them; a webhook's
        signature is computed over exactly these bytes."""
        if not self.body or self.body == "*":
            return False
        field = self.method.input_type.fields_by_name[self.body]
        return field.message_type is not None and field.message_type.full_name == HTTP_BODY

    @functools.cached_property
    def raw_response(self) -> bool:
        """A unary method answering google.api.HttpBody: its bytes are the HTTP answer (an empty
        one is a 200 with no body, as webhook senders such as Xero require)."""
        return not self.streaming and self.method.output_type.full_name == HTTP_BODY

    @functools.cached_property
    def forward_headers(self) -> tuple[str, ...]:
        return tuple(h.lower() for h in self.method.GetOptions().Extensions[options_pb2.forward_headers])

    @functools.cached_property
    def full_method(self) -> str:
        return f"/{self.method.containing_service.full_name}/{self.method.name}"

    @functools.cached_property
    def request_class(self) -> type[Message]:
        return message_factory.GetMessageClass(self.method.input_type)

    @functools.cached_property
    def response_class(self) -> type[Message]:
        return message_factory.GetMessageClass(self.method.output_type)

    @functools.cached_property
    def query_fields(self) -> list[descriptor.FieldDescriptor]:
        """Top-level request fields taken from the query string: those not bound to path or body."""
        if self.body == "*":
            return []
        bound = {path.split(".")[0] for _, path in self.path_fields} | {self.body}
        return [f for f in self.method.input_type.fields if f.name not in bound]


@functools.cache
def discover() -> tuple[Route, ...]:
    """Every public route, from every generated module under the `crm` package."""
    routes: list[Route] = []
    seen_files: set[str] = set()
    for module in generated_modules():
        file_descriptor = module.DESCRIPTOR
        if file_descriptor.name in seen_files:
            continue
        seen_files.add(file_descriptor.name)
        for service in file_descriptor.services_by_name.values():
            backend = service.GetOptions().Extensions[options_pb2.backend]
            if backend:
                routes.extend(_service_routes(service, backend))
    return tuple(routes)


def _service_routes(service: descriptor.ServiceDescriptor, backend: str) -> list[Route]:
    routes = []
    for method in service.methods:
        options = method.GetOptions()
        if not options.HasExtension(annotations_pb2.http):
            continue
        rule = options.Extensions[annotations_pb2.http]
        scope = options.Extensions[options_pb2.required_scope]
        for binding in [rule, *rule.additional_bindings]:
            routes.append(_route(binding, method, scope, backend))
    return routes


def _route(rule: http_pb2.HttpRule, method: descriptor.MethodDescriptor, scope: str, backend: str) -> Route:
    kind = rule.WhichOneof("pattern")
    if kind not in HTTP_METHODS:
        raise ValueError(f"{method.full_name}: unsupported HTTP pattern {kind!r}")
    template = getattr(rule, kind)
    if method.client_streaming:
        raise ValueError(f"{method.full_name}: client-streaming methods cannot be routed")
    if method.server_streaming and method.output_type.full_name != HTTP_BODY:
        raise ValueError(f"{method.full_name}: a server-streaming method must return {HTTP_BODY}")
    flask_rule, path_fields = flask_rule_for(template)
    options = method.GetOptions()
    rate_class = options.Extensions[options_pb2.rate_class] or ("read" if kind == "get" else "write")
    if rate_class not in RATE_CLASSES:
        raise ValueError(f"{method.full_name}: rate_class {rate_class!r} is not one of {', '.join(RATE_CLASSES)}")
    deadline = float(options.Extensions[options_pb2.deadline_seconds])
    if deadline < 0:
        raise ValueError(f"{method.full_name}: deadline_seconds must not be negative")
    public = bool(options.Extensions[options_pb2.public])
    if public and scope:
        raise ValueError(f"{method.full_name}: a public method cannot require a scope")
    return Route(
        kind.upper(), template, flask_rule, path_fields, rule.body, method, scope, backend, deadline, rate_class, public
    )


def write_scopes_of(
    message: descriptor.Descriptor, prefix: str = "", seen: frozenset[str] = frozenset()
) -> dict[str, str]:
    """JSON paths of the fields of `message` (nested too) that need a scope to be written."""
    found: dict[str, str] = {}
    if message.full_name in seen:
        return found
    for field in message.fields:
        path = f"{prefix}{field.json_name}"
        scope = field.GetOptions().Extensions[options_pb2.write_scope]
        if scope:
            found[path] = scope
        nested = field.message_type
        if nested is not None and nested.full_name not in WELL_KNOWN_SCALARS and not nested.GetOptions().map_entry:
            found.update(write_scopes_of(nested, f"{path}.", seen | {message.full_name}))
    return found


def body_descriptor(route: Route) -> descriptor.Descriptor | None:
    if not route.body:
        return None
    request = route.method.input_type
    return request if route.body == "*" else request.fields_by_name[route.body].message_type


@functools.cache
def protected_fields(route: Route) -> dict[str, str]:
    """JSON path -> scope for the fields of the route's body that need a scope to be written."""
    message = body_descriptor(route)
    return write_scopes_of(message) if message is not None else {}


def mass_assignment(route: Route, body: Any, mask: list[str], has_scope: Any) -> list[FieldViolation]:
    """Protected fields a write names (in its body or update mask) without the scope to set them."""
    protected = protected_fields(route)
    if not protected:
        return []
    named = set(_json_paths(body)) if isinstance(body, dict) else set()
    named |= {".".join(camel(part) for part in path.strip().split(".")) for path in mask if path.strip()}
    return [
        FieldViolation(path, f"may only be set with the {protected[path]} scope")
        for path in sorted(named & protected.keys())
        if not has_scope(protected[path])
    ]


def _json_paths(value: Mapping[str, Any], prefix: str = "") -> list[str]:
    paths = []
    for key, item in value.items():
        path = f"{prefix}{camel(key)}"
        paths.append(path)
        if isinstance(item, dict):
            paths += _json_paths(item, f"{path}.")
    return paths


@functools.cache
def field_write_scopes() -> frozenset[str]:
    """Every scope that a field option names, for validating the scopes of new credentials."""
    scopes: set[str] = set()
    for route in discover():
        scopes |= set(write_scopes_of(route.method.input_type).values())
    return frozenset(scopes)


def flask_rule_for(template: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """`/v1/contacts/{id}:merge` -> (`/v1/contacts/<segment:p0>:merge`, (("p0", "id"),))."""
    fields: list[tuple[str, str]] = []

    def replace(match: re.Match[str]) -> str:
        path, pattern = match.group(1), match.group(2)
        if pattern not in (None, "*"):
            raise ValueError(f"{template}: only single-segment variables are supported, got {{{path}={pattern}}}")
        name = f"p{len(fields)}"
        fields.append((name, path))
        return f"<segment:{name}>"

    return TEMPLATE_VARIABLE.sub(replace, template), tuple(fields)


def build_request(
    route: Route,
    path_values: Mapping[str, str],
    query: Mapping[str, list[str]],
    body: Any,
    if_match: str = "",
) -> Message:
    """The gRPC request for an HTTP call; every problem is an InvalidArgument naming its field."""
    request = route.request_class()
    violations: list[FieldViolation] = []
    if isinstance(body, RawBody):
        target = getattr(request, route.body)
        target.content_type, target.data = body.content_type, body.data
    elif route.body:
        if not isinstance(body, dict):
            raise InvalidArgument.of([FieldViolation("body", "must be a JSON object")])
        target = request if route.body == "*" else getattr(request, route.body)
        violations += unknown_fields(body, target.DESCRIPTOR)
        if not violations:
            violations += _parse_into(body, target)
    violations += _query_into(route, query, request)
    for name, path in route.path_fields:
        _set_path(request, path, path_values[name])
    if violations:
        raise InvalidArgument.of(violations)
    if route.body and route.body != "*" and isinstance(body, dict):
        _default_update_mask(request, body)
    if if_match:
        _set_etag(request, route.body, if_match)
    return request


def unknown_fields(value: Mapping[str, Any], message: descriptor.Descriptor, prefix: str = "") -> list[FieldViolation]:
    """Keys of a JSON object that are not fields of `message`, with their full paths."""
    found = []
    for key, item in value.items():
        field = (
            message.fields_by_camelcase_name.get(key)
            or message.fields_by_name.get(key)
            or next((f for f in message.fields if f.json_name == key), None)  # an explicit json_name
        )
        path = f"{prefix}{key}"
        if field is None:
            found.append(FieldViolation(path, "unknown field"))
            continue
        if field.message_type is None or field.message_type.full_name in WELL_KNOWN_SCALARS:
            continue
        if field.message_type.GetOptions().map_entry:
            continue
        nested = item if isinstance(item, list) and _is_repeated(field) else [item]
        for element in nested:
            if isinstance(element, dict):
                found += unknown_fields(element, field.message_type, f"{path}.")
    return found


_PARSE_FIELD = re.compile(r"(?:Failed to parse|for enum type \S+ at \S+?\.)\s*(\w+)")


def _parse_into(value: Mapping[str, Any], target: Message) -> list[FieldViolation]:
    try:
        json_format.ParseDict(value, target)
    except json_format.ParseError as exc:
        text = str(exc).split("\n")[0]
        match = _PARSE_FIELD.search(text)
        field = match.group(1) if match else "body"
        return [FieldViolation(field, f"has the wrong type or value ({_shorten(text)})")]
    return []


def _query_into(route: Route, query: Mapping[str, list[str]], request: Message) -> list[FieldViolation]:
    by_name = {}
    for field in route.query_fields:
        by_name[field.name] = by_name[field.json_name] = field
    violations = []
    values: dict[str, Any] = {}
    for key, given in query.items():
        field = by_name.get(key)
        if field is None:
            violations.append(FieldViolation(key, "unknown query parameter"))
            continue
        if field.message_type is not None and field.message_type.full_name == "google.protobuf.FieldMask":
            paths = [_snake(p.strip()) for p in ",".join(given).split(",") if p.strip()]
            getattr(request, field.name).paths.extend(paths)
            continue
        texts = given if _is_repeated(field) else given[-1:]
        if field.type == field.TYPE_BOOL:  # a query string is text; protobuf's JSON wants a real boolean
            texts = [{"true": True, "false": False}.get(t.lower(), t) for t in texts]  # type: ignore[misc]
        values[field.json_name] = texts if _is_repeated(field) else texts[0]
    if values:
        partial = type(request)()
        violations += _parse_into(values, partial)
        request.MergeFrom(partial)
    return violations


def _set_path(request: Message, path: str, value: str) -> None:
    *parents, leaf = path.split(".")
    target = request
    for name in parents:
        target = getattr(target, name)
    setattr(target, leaf, value)


def _default_update_mask(request: Message, body: Mapping[str, Any]) -> None:
    """Without update_mask, a PATCH changes the fields present in the body (API.md)."""
    field = request.DESCRIPTOR.fields_by_name.get("update_mask")
    if field is None or request.update_mask.paths:  # type: ignore[attr-defined]
        return
    request.update_mask.paths.extend(_snake(key) for key in body)  # type: ignore[attr-defined]


def _set_etag(request: Message, body_field: str, etag: str) -> None:
    etag = etag.strip().removeprefix("W/").strip('"')
    target = getattr(request, body_field) if body_field and body_field != "*" else request
    if "etag" in target.DESCRIPTOR.fields_by_name:
        target.etag = etag  # type: ignore[attr-defined]
    elif "etag" in request.DESCRIPTOR.fields_by_name:
        request.etag = etag  # type: ignore[attr-defined]


def _is_repeated(field: descriptor.FieldDescriptor) -> bool:
    return bool(field.is_repeated) if hasattr(field, "is_repeated") else field.label == field.LABEL_REPEATED


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def camel(path: str) -> str:
    """`custom_fields.region_code` -> `customFields.region_code`: JSON names for error details."""
    head, dot, rest = path.partition(".")
    return re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), head) + dot + rest


def _shorten(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
