"""The gRPC server bootstrap every service uses: health, reflection, and the interceptor that
checks the internal token and scope, maps domain errors to status codes, and records metrics."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from crm.common.v1 import options_pb2
from google.protobuf import any_pb2, descriptor_pool
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status
from opentelemetry import trace
from opentelemetry.instrumentation.grpc import server_interceptor as otel_server_interceptor

from crmkit import causation, metrics
from crmkit.config import ConfigError
from crmkit.db import is_conflict, is_unavailable
from crmkit.errors import ServiceError
from crmkit.logs import tenant_id_var
from crmkit.tokens import InternalTokens, bind_caller_token, bind_principal, unbind_caller_token, unbind_principal

log = logging.getLogger(__name__)
UNAUTHENTICATED_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")

# add_XServicer_to_server and the servicer instance, as the generated code names them.
Registration = tuple[Callable[[Any, grpc.Server], None], Any]


def _method_options(full_method: str) -> Any:
    service_name, _, method_name = full_method.lstrip("/").partition("/")
    try:
        service = descriptor_pool.Default().FindServiceByName(service_name)
    except KeyError:
        return None
    method = service.methods_by_name.get(method_name)
    return None if method is None else method.GetOptions()


@functools.cache
def required_scope(full_method: str) -> str:
    """The crm.common.v1.required_scope option of "/pkg.Service/Method" ('' when none)."""
    options = _method_options(full_method)
    return "" if options is None else str(options.Extensions[options_pb2.required_scope])


@functools.cache
def is_public(full_method: str) -> bool:
    """The crm.common.v1.public option: the only methods an anonymous principal may call."""
    options = _method_options(full_method)
    return options is not None and bool(options.Extensions[options_pb2.public])


def status_for(error: ServiceError) -> grpc.Status:
    code = code_pb2.Code.Value(error.grpc_code)
    details = []
    if error.violations:
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                for v in error.violations
            ]
        )
        packed = any_pb2.Any()
        packed.Pack(bad_request)
        details.append(packed)
    return rpc_status.to_status(status_pb2.Status(code=code, message=error.message, details=details))


class CrmServerInterceptor(grpc.ServerInterceptor):
    def __init__(self, tokens: InternalTokens, service: str) -> None:
        self.tokens = tokens
        self.service = service

    def intercept_service(self, continuation: Any, handler_call_details: Any) -> Any:
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(UNAUTHENTICATED_PREFIXES):
            return handler
        if handler.unary_stream is not None:
            return self._guard_stream(handler, method)
        if handler.unary_unary is None:
            # Client- and bidirectional-streaming methods have no guard: refuse rather than serve
            # them unauthenticated.
            raise NotImplementedError(f"{method}: only unary and server-streaming methods are supported")
        inner = handler.unary_unary
        scope = required_scope(method)
        public = is_public(method)
        method_name = method.rsplit("/", 1)[-1]

        def guarded(request: Any, context: grpc.ServicerContext) -> Any:
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                code, response = self._call(inner, request, context, scope, public)
                return response
            except grpc.RpcError:
                code = context.code() or grpc.StatusCode.UNKNOWN  # set by abort_with_status
                raise
            except Exception:
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            finally:
                elapsed = time.perf_counter() - started
                metrics.GRPC_HANDLED.labels(self.service, method_name, code.name).inc()
                metrics.GRPC_LATENCY.labels(self.service, method_name).observe(elapsed)
                log.debug(
                    "%s %s", method_name, code.name, extra={"rpc": method_name, "duration_ms": round(elapsed * 1000, 2)}
                )

        return grpc.unary_unary_rpc_method_handler(
            guarded,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _guard_stream(self, handler: Any, method: str) -> Any:
        """A server-streaming method under the same token, scope and error rules as a unary one:
        the principal stays bound while the stream is produced, and an error raised after some
        messages were sent still ends the stream with its status."""
        inner = handler.unary_stream
        scope = required_scope(method)
        public = is_public(method)
        method_name = method.rsplit("/", 1)[-1]

        def guarded(request: Any, context: grpc.ServicerContext) -> Any:
            code = grpc.StatusCode.OK
            started = time.perf_counter()
            token = str(dict(context.invocation_metadata()).get("authorization", "")).removeprefix("Bearer ").strip()
            failure: grpc.Status | None = None
            try:
                principal, failure = self._authorise(token, scope, public)
                if failure is None and principal is not None:
                    bound = bind_principal(principal)
                    token_bound = bind_caller_token(token)
                    tenant_bound = tenant_id_var.set(principal.tenant_id)
                    chain = causation.from_metadata(dict(context.invocation_metadata()).get(causation.METADATA_KEY))
                    try:
                        with causation.bound(chain):
                            yield from inner(request, context)
                    except ServiceError as exc:
                        failure = status_for(exc)
                    except Exception as exc:
                        failure = self._unexpected(exc)
                    finally:
                        tenant_id_var.reset(tenant_bound)
                        unbind_caller_token(token_bound)
                        unbind_principal(bound)
                if failure is not None:
                    code = failure.code
                    context.abort_with_status(failure)
            finally:
                metrics.GRPC_HANDLED.labels(self.service, method_name, code.name).inc()
                metrics.GRPC_LATENCY.labels(self.service, method_name).observe(time.perf_counter() - started)

        return grpc.unary_stream_rpc_method_handler(
            guarded,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _authorise(self, token: str, scope: str, public: bool) -> tuple[Any, grpc.Status | None]:
        """The caller's principal, or the status that refuses the call."""
        try:
            principal = self.tokens.verify(token)
        except ServiceError as exc:
            return None, status_for(exc)
        trace.get_current_span().set_attribute("crm.tenant_id", principal.tenant_id)
        if principal.is_anonymous and not public:
            return None, rpc_status.to_status(
                status_pb2.Status(code=code_pb2.UNAUTHENTICATED, message="this call needs credentials")
            )
        if scope and not principal.has_scope(scope):
            return None, rpc_status.to_status(
                status_pb2.Status(code=code_pb2.PERMISSION_DENIED, message=f"this call needs the {scope} scope")
            )
        return principal, None

    def _unexpected(self, exc: Exception) -> grpc.Status:
        """An exception no domain rule raised: an outage, a race lost to another writer, or a bug."""
        if is_unavailable(exc):  # the database is away: the caller may retry, it is no bug
            log.warning("%s: database unavailable (%s)", self.service, type(exc).__name__)
            code, message = code_pb2.UNAVAILABLE, "the database is unavailable"
        elif is_conflict(exc):  # a concurrent writer took the same unique key first
            log.info("%s: uniqueness conflict (%s)", self.service, type(exc).__name__)
            code, message = code_pb2.ALREADY_EXISTS, "conflicts with a resource that now exists; read it and retry"
        else:
            log.exception("unhandled error in %s", self.service)
            code, message = code_pb2.INTERNAL, "internal error"
        return rpc_status.to_status(status_pb2.Status(code=code, message=message))

    def _call(
        self, inner: Any, request: Any, context: grpc.ServicerContext, scope: str, public: bool = False
    ) -> tuple[Any, Any]:
        metadata = dict(context.invocation_metadata())
        token = str(metadata.get("authorization", "")).removeprefix("Bearer ").strip()
        response = None
        principal, failure = self._authorise(token, scope, public)
        if failure is None:
            bound = bind_principal(principal)
            token_bound = bind_caller_token(token)
            tenant_bound = tenant_id_var.set(principal.tenant_id)
            try:
                with causation.bound(causation.from_metadata(metadata.get(causation.METADATA_KEY))):
                    response = inner(request, context)
            except ServiceError as exc:
                failure = status_for(exc)
            except Exception as exc:
                failure = self._unexpected(exc)
            finally:
                tenant_id_var.reset(tenant_bound)
                unbind_caller_token(token_bound)
                unbind_principal(bound)
        if failure is not None:
            context.abort_with_status(failure)  # raises; the code is recorded by the caller's finally
        return grpc.StatusCode.OK, response


@dataclass
class RunningServer:
    server: grpc.Server
    health: health.HealthServicer
    port: int

    def stop(self, grace: float = 5.0) -> None:
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()


def start_server(
    service: str,
    registrations: Sequence[Registration],
    service_names: Sequence[str],
    bind: str,
    tokens: InternalTokens,
    max_workers: int = 16,
) -> RunningServer:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=f"grpc-{service}"),
        interceptors=[otel_server_interceptor(), CrmServerInterceptor(tokens, service)],
        options=[
            ("grpc.so_reuseport", 0),
            # Clients reconnect (and re-resolve DNS) at least every five minutes, so pods added by a
            # scale-out start receiving calls from long-lived channels.
            ("grpc.max_connection_age_ms", 300_000),
            ("grpc.max_connection_age_grace_ms", 30_000),
        ],
    )
    for add, servicer in registrations:
        add(servicer, server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [*service_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME], server
    )
    try:
        port = server.add_insecure_port(bind)
    except RuntimeError:
        port = 0
    if port == 0:
        raise ConfigError(
            f"{service} cannot listen on {bind}; is another process using it? (CRM_{service.upper()}_ADDR)"
        )
    server.start()
    for name in ("", *service_names):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("%s gRPC listening on %s", service, bind)
    return RunningServer(server, health_servicer, port)
