"""The Flask gateway: authenticates, checks scopes, turns REST into gRPC and answers in JSON."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import grpc
import redis
from flask import Flask, Response, g, jsonify, request
from flask_cors import CORS
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry import trace
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import BaseConverter

from crmkit import grpcclient, metrics
from crmkit.config import Settings
from crmkit.db import Database, is_unavailable
from crmkit.errors import FieldViolation, ServiceError
from crmkit.logs import request_id_var, tenant_id_var
from crmkit.telemetry import attached, context_from_headers, tracer
from crmkit.tokens import InternalTokens, Principal
from gateway import docs, openapi
from gateway.admin import Handler, audit_handlers, credentials_handlers
from gateway.audit import AuditLog, Write
from gateway.auth import Authenticator
from gateway.credcache import CredentialCache, Revocations, channel_name
from gateway.errors import INTERNAL_MESSAGE, ApiError
from gateway.idempotency import (
    Claimed,
    IdempotencyStore,
    InFlight,
    InProcessIdempotencyStore,
    Mismatch,
    RedisIdempotencyStore,
    StoredResponse,
    fingerprint,
)
from gateway.oauth import AccessTokens, OAuthClients, OAuthError, SigningKeys
from gateway.oidc import UserTokens
from gateway.ratelimit import Bucket, InProcessRateLimiter, RateLimiter, RedisRateLimiter
from gateway.routes import RawBody, Route, build_request, discover, mass_assignment
from gateway.tenancy import Tenancy

log = logging.getLogger(__name__)
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Headers a browser client may read on a cross-origin response (CORS).
EXPOSED_HEADERS = [
    "ETag",
    "X-Request-Id",
    "Retry-After",
    "Idempotent-Replayed",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
]
# A refused body is read and dropped up to this size, so that the client sees the 413 instead of a
# connection reset; beyond it the connection is closed.
DRAIN_LIMIT_BYTES = 16 * 1024 * 1024
# Methods of this backend are served by the gateway itself (gateway/admin.py).
LOCAL_BACKEND = "gateway"
# First pause before retrying a read on UNAVAILABLE; doubled on each further attempt.
RETRY_PAUSE_SECONDS = 0.05
# HTTP methods whose calls are written to the audit log (docs/adr/0014).
AUDITED_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
# Bodies a public route also takes, besides JSON (HTML forms, RFC 8058 one-click unsubscribes).
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class SegmentConverter(BaseConverter):
    """One path segment, stopping at ':' so that custom methods (`/{id}:merge`) route apart."""

    regex = r"[^/:]+"


class Backends:
    """One channel per backend service, and a cached callable per route."""

    def __init__(self, addresses: Mapping[str, str], deadline_seconds: float, get_retries: int = 2) -> None:
        self.addresses = dict(addresses)
        self.deadline = deadline_seconds
        self.get_retries = get_retries
        self._channels: dict[str, grpc.Channel] = {}
        self._calls: dict[str, Callable[..., Any]] = {}

    def deadline_of(self, route: Route) -> float:
        """Seconds a call on `route` may take, retries included: its own deadline or the default."""
        return route.deadline or self.deadline

    def channel(self, backend: str) -> grpc.Channel:
        if backend not in self._channels:
            self._channels[backend] = grpcclient.channel(self.addresses[backend])
        return self._channels[backend]

    def call(self, route: Route, message: Any, metadata: list[tuple[str, str]]) -> Any:
        call = self._calls.get(route.full_method)
        if call is None:
            call = self.channel(route.backend).unary_unary(
                route.full_method,
                request_serializer=route.request_class.SerializeToString,
                response_deserializer=route.response_class.FromString,
            )
            self._calls[route.full_method] = call
        # One deadline for the whole call, retries included: the caller never waits longer than it.
        ends = time.monotonic() + self.deadline_of(route)
        # Only reads are retried, and only on UNAVAILABLE (the call did not reach a handler):
        # repeating a write could apply it twice.
        attempts = 1 + (self.get_retries if route.http_method == "GET" else 0)
        for attempt in range(attempts):
            try:
                return call(message, timeout=max(ends - time.monotonic(), 0.001), metadata=metadata)
            except grpc.RpcError as exc:
                left = ends - time.monotonic()
                pause = RETRY_PAUSE_SECONDS * 2**attempt
                if exc.code() != grpc.StatusCode.UNAVAILABLE or attempt + 1 == attempts or left <= pause * 2:
                    raise
                metrics.GATEWAY_RETRIES.labels(route.method.name).inc()
                time.sleep(pause)
        raise AssertionError("unreachable")

    def stream(self, route: Route, message: Any, metadata: list[tuple[str, str]]) -> Iterator[Any]:
        """The messages of a server-streaming call; the first one is awaited before returning, so
        that a refusal (bad filter, missing scope) is still an ordinary error answer."""
        call = self._calls.get(route.full_method)
        if call is None:
            call = self.channel(route.backend).unary_stream(
                route.full_method,
                request_serializer=route.request_class.SerializeToString,
                response_deserializer=route.response_class.FromString,
            )
            self._calls[route.full_method] = call
        replies = call(message, timeout=self.deadline_of(route), metadata=metadata)
        first = next(replies, None)

        def rest() -> Iterator[Any]:
            if first is not None:
                yield first
            try:
                yield from replies
            except grpc.RpcError as exc:  # the status line is sent: all that is left is to stop short
                log.warning("stream of %s ended early: %s", route.full_method, exc.code())
            finally:  # the client went away or the stream ended: free the call either way
                cancel = getattr(replies, "cancel", None) or getattr(replies, "close", None)
                if cancel is not None:
                    cancel()

        return rest()

    def health(self, backend: str, timeout: float = 1.0) -> bool:
        if backend == LOCAL_BACKEND:
            return True
        stub = health_pb2_grpc.HealthStub(self.channel(backend))
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
        except grpc.RpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()


def _replayable(headers: Any) -> dict[str, str]:
    return {name: headers[name] for name in ("ETag",) if name in headers}


def _resource_id(route: Route, path_values: Mapping[str, Any], response: Response) -> str:
    """The id a write touched: the resource in a successful answer (a created one's new id), else
    the last id in the path."""
    if 200 <= response.status_code < 300 and response.is_json:
        payload = response.get_json(silent=True)
        if isinstance(payload, dict):
            found = payload.get("id")
            if not isinstance(found, str):  # {"apiKey": {...}, "secret": ...}: the one resource inside
                nested = [v for v in payload.values() if isinstance(v, dict) and isinstance(v.get("id"), str)]
                found = nested[0]["id"] if len(nested) == 1 else None
            if found:
                return str(found)
    names = [name for name, _ in route.path_fields]
    return str(path_values.get(names[-1], "")) if names else ""


def _drain_body() -> bool:
    """Read what is left of a refused request body; False when it is too large to bother."""
    length = request.content_length
    if length is None or length > DRAIN_LIMIT_BYTES:
        return False
    stream = request.environ.get("wsgi.input")
    if stream is None:
        return True
    remaining = length
    try:
        while remaining > 0:
            chunk = stream.read(min(remaining, 65536))
            if not chunk:
                break
            remaining -= len(chunk)
    except OSError:
        return False
    return True


def create_app(
    settings: Settings,
    database: Database,
    tokens: InternalTokens,
    backends: Backends,
    routes: tuple[Route, ...] | None = None,
) -> Flask:
    routes = discover() if routes is None else routes
    redis_client = (
        redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        if settings.redis_url
        else None
    )
    # Verified credentials are cached per process; with Redis, only while subscribed to the
    # revocations every gateway broadcasts (docs/adr/0030).
    credential_cache = CredentialCache(settings.credential_cache_seconds, live=redis_client is None)
    revocations = Revocations(credential_cache, redis_client, channel_name(settings.redis_prefix))
    if redis_client is not None and settings.credential_cache_seconds > 0:
        threading.Thread(
            target=revocations.listen, args=(threading.Event(),), name="credential-revocations", daemon=True
        ).start()
    tenancy = Tenancy(database, revocations.announce)
    signing_keys = SigningKeys(database, settings.signing_key_passphrase, settings.signing_key_refresh_seconds)
    signing_keys.ensure()
    issuer = settings.oauth_issuer or f"http://{settings.gateway_addr}"
    access_tokens = AccessTokens(signing_keys, issuer, settings.access_token_ttl_seconds)
    clients = OAuthClients(database, access_tokens, revocations.announce)
    users = None
    if settings.oidc_issuer:
        users = UserTokens(
            settings.oidc_issuer,
            settings.oidc_audience,
            settings.oidc_jwks_url,
            settings.oidc_algorithms,
            settings.oidc_tenant_claim,
            settings.oidc_roles_claim,
            tenancy,
        )
    authenticator = Authenticator(tenancy, clients, users, issuer, credential_cache)
    limiter: RateLimiter = RedisRateLimiter(redis_client) if redis_client else InProcessRateLimiter()
    idempotency: IdempotencyStore = RedisIdempotencyStore(redis_client) if redis_client else InProcessIdempotencyStore()

    def buckets_for(route: Route, principal: Principal, path_values: Mapping[str, str]) -> list[Bucket]:
        limit, period = settings.rate_limits[route.rate_class]
        base = f"{settings.redis_prefix}:rl:{route.rate_class}"
        buckets = [
            Bucket(f"{base}:c:{principal.subject}", limit, period),
            Bucket(f"{base}:t:{principal.tenant_id}", limit * settings.tenant_rate_factor, period),
        ]
        if principal.is_anonymous and route.path_fields:
            # A public route naming a resource (a web form's key): its own small budget per
            # resource and address, so one page's visitors cannot flood one form (docs/adr/0043).
            named = "/".join(str(path_values.get(name, "")) for name, _ in route.path_fields)
            digest = hashlib.sha256(f"{route.full_method}\n{named}".encode()).hexdigest()[:32]
            public_limit, public_period = settings.public_rate_limit
            buckets.append(Bucket(f"{base}:p:{digest}:{principal.subject}", public_limit, public_period))
        return buckets

    audit = AuditLog(database)
    local: dict[str, Handler] = {**credentials_handlers(tenancy, clients), **audit_handlers(audit)}
    spec = openapi.document(routes)
    app = Flask("crm-gateway")
    if settings.trusted_proxy_hops:
        # Behind an ingress every caller has the proxy's address: take the client's from the
        # headers the trusted hops append, so anonymous callers get buckets of their own (ADR 69).
        hops = settings.trusted_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    app.extensions["crm_revocations"] = revocations
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.url_map.converters["segment"] = SegmentConverter
    app.url_map.strict_slashes = False
    span_tracer = tracer("crm.gateway")
    # Spans, metrics and logs name a route by its proto template (`/v1/contacts/{id}`).
    templates = {r.flask_rule: r.template for r in routes}

    def route_label() -> str:
        if request.url_rule is None:
            return "unmatched"
        return templates.get(request.url_rule.rule, request.url_rule.rule)

    if settings.cors_origins:
        CORS(
            app,
            origins=list(settings.cors_origins),
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "If-Match", "X-Request-Id"],
            expose_headers=EXPOSED_HEADERS,
            methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            max_age=600,
            supports_credentials=False,
        )

    @app.before_request
    def start() -> None:
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        g.request_id_token = request_id_var.set(g.request_id)
        g.started = time.perf_counter()
        route_name = route_label()
        # werkzeug title-cases header names; the W3C propagator looks them up in lower case.
        g.trace_scope = attached(context_from_headers({k.lower(): v for k, v in request.headers.items()}))
        g.trace_scope.__enter__()
        g.span = span_tracer.start_span(f"{request.method} {route_name}", kind=trace.SpanKind.SERVER)
        g.span_scope = trace.use_span(g.span, end_on_exit=True)
        g.span_scope.__enter__()
        g.span.set_attribute("http.request.method", request.method)
        g.span.set_attribute("http.route", route_name)
        g.span.set_attribute("crm.request_id", g.request_id)

    @app.after_request
    def finish(response: Response) -> Response:
        response.headers["X-Request-Id"] = g.get("request_id", "")
        # Added where the response has not set them: one pass over its headers, not one per name
        # (werkzeug's setdefault scans them all each time, a third of this hook's CPU).
        present = {name.lower() for name in response.headers.keys()}  # noqa: SIM118 - iterating Headers gives pairs
        response.headers.extend(
            (name, value)
            for defaults in (g.get("rate_headers", {}), SECURITY_HEADERS)
            for name, value in defaults.items()
            if name.lower() not in present
        )
        route_name = route_label()
        metrics.HTTP_REQUESTS.labels(request.method, route_name, str(response.status_code)).inc()
        if "started" in g:
            metrics.HTTP_LATENCY.labels(request.method, route_name).observe(time.perf_counter() - g.started)
        if "span" in g:
            g.span.set_attribute("http.response.status_code", response.status_code)
        # The route template, never the raw path or query: those may carry what callers typed.
        log.info(
            "%s %s %d",
            request.method,
            route_name,
            response.status_code,
            extra={
                "http_method": request.method,
                "route": route_name,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - g.started) * 1000, 2) if "started" in g else None,
            },
        )
        return response

    @app.after_request
    def record_write(response: Response) -> Response:
        """Append an authenticated write to the tenant's audit log once it has been answered. A
        failure to append does not change the answer (the work is done): it is logged and counted
        (crm_audit_write_failures_total), see docs/adr/0014."""
        route: Route | None = g.get("audit_route")
        principal: Principal | None = g.get("principal")
        if route is None or principal is None or route.http_method not in AUDITED_METHODS:
            return response
        # An anonymous call (a public route such as a survey answer) has no tenant to chain it to;
        # the service records it under the tenant its signed token names, and emits an event.
        if principal.is_anonymous:
            return response
        # Refused by the rate limiter: nothing ran, and recording each refusal would turn a flood
        # of calls into a flood of writes to the gateway's database.
        if response.status_code == 429:
            return response
        write = Write(
            tenant_id=principal.tenant_id,
            request_id=g.get("request_id", ""),
            principal=principal.subject,
            http_method=route.http_method,
            operation=route.full_method,
            resource_template=route.template,
            resource_path=request.path,
            resource_id=_resource_id(route, request.view_args or {}, response),
            status=response.status_code,
        )
        try:
            audit.append(write)
        except Exception:
            metrics.AUDIT_WRITE_FAILURES.inc()
            log.exception(
                "could not append to the audit log: %s %s %d",
                route.http_method,
                route.template,
                response.status_code,
                extra={"route": route.template, "status": response.status_code},
            )
        return response

    @app.teardown_request
    def close_span(_exc: BaseException | None) -> None:
        if "span_scope" in g:
            g.span_scope.__exit__(None, None, None)
        if "trace_scope" in g:
            g.trace_scope.__exit__(None, None, None)
        if "tenant_token" in g:
            tenant_id_var.reset(g.tenant_token)
        if "request_id_token" in g:
            request_id_var.reset(g.request_id_token)

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        response = jsonify(exc.body())
        response.status_code = exc.http_status
        response.headers.update(exc.headers)
        if exc.http_status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="crm"'
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        code = exc.code or 500
        messages = {
            404: f"no route for {request.path}",
            405: f"{request.method} is not allowed on {request.path}",
            413: f"the request body is larger than {settings.max_body_bytes} bytes",
        }
        response = api_error(ApiError(code, messages.get(code, exc.description or exc.name)))
        if code == 413 and not _drain_body():
            response.headers["Connection"] = "close"
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        if is_unavailable(exc):  # the gateway's own database is away (e.g. while authenticating)
            log.warning("gateway database unavailable: %s", type(exc).__name__)
            return api_error(ApiError(503, "temporarily unavailable; retry shortly", headers={"Retry-After": "1"}))
        log.exception("unhandled error in the gateway")
        return api_error(ApiError(500, INTERNAL_MESSAGE, "INTERNAL"))

    docs.register(app)

    @app.get("/openapi.json")
    def openapi_document() -> Response:
        return jsonify(spec)

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    def readyz() -> Response:
        """Ready when the gateway itself can work; backends are reported, not required: one service
        being down must turn its routes into 503s, not take every gateway pod out of rotation."""
        checks: dict[str, str] = {}
        try:
            database.ping()
            checks["database"] = "ok"
        except Exception as exc:
            log.warning("readiness: gateway database unavailable: %s", type(exc).__name__)
            checks["database"] = "unavailable"
        health = {
            b: "ok" if backends.health(b) else "unavailable"
            for b in sorted({r.backend for r in routes} - {LOCAL_BACKEND})
        }
        ready = all(v == "ok" for v in checks.values())
        response = jsonify({"status": "ok" if ready else "unavailable", "checks": checks, "backends": health})
        response.status_code = 200 if ready else 503
        return response

    @app.get("/.well-known/jwks.json")
    def jwks() -> Response:
        response = jsonify(signing_keys.jwks())
        response.headers["Cache-Control"] = "public, max-age=300"
        return response

    @app.post("/oauth/token")
    def oauth_token() -> Response:
        try:
            token, scopes = client_credentials_grant()
        except OAuthError as exc:
            response = jsonify({"error": exc.error, "error_description": exc.description})
            response.status_code = exc.status
            if exc.status == 401:
                response.headers["WWW-Authenticate"] = 'Basic realm="crm"'
            response.headers["Pragma"] = "no-cache"
            return response
        response = jsonify(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": settings.access_token_ttl_seconds,
                "scope": " ".join(sorted(scopes)),
            }
        )
        response.headers["Pragma"] = "no-cache"
        return response

    def client_credentials_grant() -> tuple[str, frozenset[str]]:
        """RFC 6749 §4.4 with client authentication by HTTP Basic or form fields (§2.3.1)."""
        if request.mimetype != "application/x-www-form-urlencoded":
            raise OAuthError("invalid_request", "send the request as application/x-www-form-urlencoded")
        form = request.form
        for name in ("grant_type", "scope", "client_id", "client_secret"):
            if len(form.getlist(name)) > 1:
                raise OAuthError("invalid_request", f"{name} is given more than once")
        grant_type = form.get("grant_type")
        if not grant_type:
            raise OAuthError("invalid_request", "grant_type is required")
        if grant_type != "client_credentials":
            raise OAuthError("unsupported_grant_type", "only client_credentials is supported")
        basic = request.authorization
        if basic is not None and basic.type == "basic":
            if "client_secret" in form:
                raise OAuthError("invalid_request", "authenticate the client one way, not two")
            client_id, secret = unquote_plus(basic.username or ""), unquote_plus(basic.password or "")
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if not client_id or not secret:
            raise OAuthError("invalid_client", "client authentication is required", 401)
        scope = form.get("scope")
        return clients.grant(client_id, secret, scope if scope else None)

    def authenticate() -> Principal:
        header = request.headers.get("Authorization", "")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise ApiError(401, "missing credentials: send `Authorization: Bearer <API key or access token>`")
        try:
            principal = authenticator.authenticate(credential.strip())
        except ServiceError as exc:
            raise ApiError.from_service_error(exc) from None
        g.tenant_token = tenant_id_var.set(principal.tenant_id)
        g.span.set_attribute("crm.tenant_id", principal.tenant_id)
        return principal

    def read_body(route: Route) -> Any:
        if not route.body:
            return None
        if route.raw_body:
            return RawBody(request.content_type or "", request.get_data(cache=True))
        if route.public and request.mimetype in FORM_TYPES:
            # What a credential-less caller posts without scripts: an HTML form, or a mail client's
            # RFC 8058 one-click unsubscribe (`List-Unsubscribe=One-Click`). Fields by JSON name.
            return {key: request.form.get(key, "") for key in request.form}
        if not request.content_length and not request.data:
            return {}
        if not request.is_json:
            raise ApiError(415, "the request body must be JSON (Content-Type: application/json)")
        try:
            return request.get_json(force=True)
        except BadRequest:  # only a parse error: a too-large body stays a 413
            raise ApiError(400, "the request body is not valid JSON") from None

    def execute(route: Route, message: Any, principal: Principal) -> Response:
        if route.backend == LOCAL_BACKEND:
            try:
                reply = local[route.full_method](message, principal)
            except ServiceError as exc:
                raise ApiError.from_service_error(exc) from None
        else:
            metadata = [
                ("authorization", f"Bearer {tokens.reused(principal, backends.deadline_of(route))}"),
                ("x-request-id", g.request_id),
            ]
            metadata += forwarded_headers(route)
            if route.streaming:
                return streamed(route, message, metadata)
            try:
                reply = backends.call(route, message, metadata)
            except grpc.RpcError as exc:
                raise ApiError.from_rpc_error(exc) from None
        if route.redirects:
            return redirect_to(reply.location)
        if route.raw_response:
            return Response(reply.data, status=200, content_type=reply.content_type or None)
        payload = json_format.MessageToDict(reply, always_print_fields_with_no_presence=True)
        response = jsonify(payload)
        if isinstance(payload.get("etag"), str) and payload["etag"]:
            response.headers["ETag"] = f'"{payload["etag"]}"'
        return response

    def redirect_to(location: str) -> Response:
        """302 to where the service said; only an absolute http(s) URL (never a relative or
        scripted one), and never cached: each follow of a tracked link must reach the service."""
        if urlsplit(location).scheme not in ("http", "https") or not urlsplit(location).netloc:
            log.error("refused a redirect to a location that is not an absolute http(s) URL")
            raise ApiError(500, INTERNAL_MESSAGE, "INTERNAL")
        response = Response(status=302)
        response.headers["Location"] = location
        response.headers["Cache-Control"] = "no-store"
        return response

    def forwarded_headers(route: Route) -> list[tuple[str, str]]:
        """The headers the route's method asks for (crm.common.v1.forward_headers), when they are
        valid gRPC metadata (visible ASCII); an unusable value is dropped, as if not sent."""
        found = []
        for name in route.forward_headers:
            value = request.headers.get(name)
            if value is not None and value.isascii() and value.isprintable():
                found.append((name, value))
        return found

    def streamed(route: Route, message: Any, metadata: list[tuple[str, str]]) -> Response:
        try:
            pieces = backends.stream(route, message, metadata)
            first = next(pieces, None)
        except grpc.RpcError as exc:
            raise ApiError.from_rpc_error(exc) from None
        content_type = first.content_type if first is not None and first.content_type else "application/octet-stream"

        def body() -> Iterator[bytes]:
            if first is not None:
                yield first.data
            for piece in pieces:
                yield piece.data

        return Response(body(), mimetype=None, content_type=content_type)

    def claim_idempotency_key(route: Route, principal: Principal, body: Any) -> tuple[str, str] | Response | None:
        """(store key, fingerprint) when this request runs under a key; a Response to replay; None."""
        given = request.headers.get("Idempotency-Key")
        if given is None or route.http_method not in ("POST", "PATCH"):
            return None
        if not IDEMPOTENCY_KEY.match(given):
            raise ApiError(
                400,
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
                violations=[FieldViolation("Idempotency-Key", "1 to 255 visible ASCII characters")],
            )
        digest = hashlib.sha256(given.encode()).hexdigest()
        store_key = f"{settings.redis_prefix}:idem:{principal.tenant_id}:{principal.subject}:{digest}"
        content = {"sha256": hashlib.sha256(body.data).hexdigest()} if isinstance(body, RawBody) else body
        print_ = fingerprint(route.http_method, request.path, request.query_string.decode(), content)
        hold = 2 * backends.deadline_of(route) + 10
        try:
            outcome = idempotency.begin(store_key, print_, hold)
        except ServiceError as exc:
            raise ApiError.from_service_error(exc) from None
        if isinstance(outcome, Claimed):
            return store_key, print_
        if isinstance(outcome, Mismatch):
            raise ApiError(422, "this Idempotency-Key was used for a different request", "INVALID_ARGUMENT")
        if isinstance(outcome, InFlight):
            raise ApiError(
                409, "a request with this Idempotency-Key is still running; retry later", headers={"Retry-After": "1"}
            )
        stored = outcome.response
        replay = Response(stored.body, status=stored.status, mimetype="application/json")
        replay.headers.update(stored.headers)
        replay.headers["Idempotent-Replayed"] = "true"
        return replay

    def settle_idempotency_key(claim: tuple[str, str], exc: ApiError) -> None:
        if exc.http_status in (429, 503):  # the work never started: a retry with the key must run
            idempotency.release(claim[0])
            return
        stored = StoredResponse(exc.http_status, json.dumps(exc.body()).encode(), dict(exc.headers))
        idempotency.finish(claim[0], claim[1], stored, settings.idempotency_ttl_seconds)

    def view_for(route: Route) -> Callable[..., Response]:
        def view(**path_values: str) -> Response:
            g.audit_route = route
            # A public route needs no credentials: an anonymous principal per client address, so
            # the rate limiter and idempotency keys are per address (all anonymous callers share
            # the tenant-level budget of the empty tenant).
            principal = Principal.anonymous(request.remote_addr or "") if route.public else authenticate()
            g.principal = principal
            if route.scope and not principal.has_scope(route.scope):
                raise ApiError(403, f"this call needs the {route.scope} scope")
            decision = limiter.check(buckets_for(route, principal, path_values))
            g.rate_headers = decision.headers()
            if not decision.allowed:
                metrics.RATE_LIMITED.labels(route.rate_class).inc()
                raise ApiError(
                    429,
                    f"too many {route.rate_class} calls; retry after {decision.retry_after_seconds} s",
                    headers=g.rate_headers,
                )
            body = read_body(route)
            query = {k: request.args.getlist(k) for k in request.args}
            mask = ",".join(query.get("updateMask", []) + query.get("update_mask", [])).split(",")
            refused = mass_assignment(route, body, mask, principal.has_scope)
            if refused:
                raise ApiError(400, "; ".join(f"{v.field}: {v.description}" for v in refused), violations=refused)
            try:
                message = build_request(route, path_values, query, body, request.headers.get("If-Match", ""))
            except ServiceError as exc:
                raise ApiError.from_service_error(exc) from None
            claim = claim_idempotency_key(route, principal, body)
            if isinstance(claim, Response):
                return claim
            try:
                response = execute(route, message, principal)
            except ApiError as exc:
                if claim:
                    settle_idempotency_key(claim, exc)
                raise
            except BaseException:
                if claim:
                    idempotency.release(claim[0])
                raise
            if claim:
                stored = StoredResponse(response.status_code, response.get_data(), _replayable(response.headers))
                idempotency.finish(claim[0], claim[1], stored, settings.idempotency_ttl_seconds)
            return response

        view.__name__ = route.full_method
        return view

    for route in routes:
        app.add_url_rule(
            route.flask_rule,
            endpoint=f"{route.full_method}#{route.http_method}",
            view_func=view_for(route),
            methods=[route.http_method],
        )
    return app
