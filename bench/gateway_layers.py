"""Where a gateway call's time goes, layer by layer (a development tool, not part of `make bench`).

Starts the distributed suite as bench/gateway.py does, then times each layer of
`GET /v1/contacts/{id}` on its own, in this process, many times over:

- the gRPC call itself (a plain channel, and the gateway's traced one inside a span);
- the WSGI apps called directly, without HTTP (the bare pass-through, and the gateway);
- each step of the gateway's own work (credential cache, rate limit, token, span, JSON);
- the HTTP layer: each client against gunicorn, with the gunicorn worker's CPU per request.

Medians of wall time, and the calling thread's CPU time (less disturbed by a busy machine).

    python -m bench.gateway_layers --calls 2000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import requests
from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from werkzeug.test import EnvironBuilder

from bench.gateway import start_passthrough
from bench.measure import KeepAlive
from bench.profile_gateway import traced_suite, worker_pid
from crmkit import grpcclient
from crmkit.tokens import InternalTokens, Principal
from tests.e2e import support
from tests.e2e.support import Api, wait_until


def timed(call: Callable[[], Any], calls: int, warmup: int = 50) -> dict[str, float]:
    for _ in range(warmup):
        call()
    walls, cpus = [], []
    for _ in range(calls):
        cpu, wall = time.thread_time(), time.perf_counter()
        call()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.thread_time() - cpu)
    return {
        "wall_p50_us": round(statistics.median(walls) * 1e6, 1),
        "cpu_mean_us": round(statistics.fmean(cpus) * 1e6, 1),
    }


def worker_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wsgi_caller(app: Any, path: str, headers: dict[str, str]) -> Callable[[], None]:
    def call() -> None:
        environ = EnvironBuilder(path=path, headers=headers).get_environ()
        status: list[str] = []
        body = b"".join(app(environ, lambda s, h, *_: status.append(s)))
        if not status[0].startswith("200"):
            raise RuntimeError(f"{status[0]} {body[:200]!r}")

    return call


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    n = args.calls
    # A busy machine starts the suite's processes slowly: be patient with them here.
    support.wait_until = lambda condition, timeout=20.0, what="condition": wait_until(condition, timeout * 5, what)
    results: dict[str, Any] = {}
    with traced_suite("layers") as suite:
        passthrough = None
        try:
            tenant = suite.create_tenant("Layers")
            key = tenant["apiKey"]
            api = Api(suite.base, key)
            contact = api.post("/v1/contacts", json={"givenName": "L", "email": "l@example.com"}).json()["id"]
            path = f"/v1/contacts/{contact}"
            auth = {"Authorization": f"Bearer {key}"}

            passthrough, bare = start_passthrough(suite.env, tenant["tenantId"])
            wait_until(lambda: requests.get(bare + path, timeout=2).ok, 30, "the pass-through")

            # -- gRPC ---------------------------------------------------------------------------
            os.environ.update({k: v for k, v in suite.env.items() if k.startswith(("CRM_", "OTEL_"))})
            os.environ["BENCH_TENANT"] = tenant["tenantId"]
            from crmkit.config import Settings
            from crmkit.telemetry import setup_tracing, tracer

            setup_tracing("gateway")
            settings = Settings.from_env(os.environ)
            tokens = InternalTokens(settings.internal_token_secret, settings.internal_token_ttl_seconds)
            principal = Principal(tenant["tenantId"], "bench", frozenset({"admin"}))
            long_lived = InternalTokens(settings.internal_token_secret, ttl_seconds=3600)
            metadata = [("authorization", f"Bearer {long_lived.mint(principal)}")]
            request = contacts_pb2.GetContactRequest(id=contact)
            plain = contacts_pb2_grpc.ContactsServiceStub(grpc.insecure_channel(settings.grpc_addr("contacts")))
            results["grpc_plain"] = timed(lambda: plain.GetContact(request, metadata=metadata, timeout=10), n)
            traced = contacts_pb2_grpc.ContactsServiceStub(grpcclient.channel(settings.grpc_addr("contacts")))
            spans = tracer("layers")

            def traced_call() -> None:
                with spans.start_as_current_span("outer"):
                    traced.GetContact(request, metadata=metadata, timeout=10)

            results["grpc_traced_channel_in_span"] = timed(traced_call, n)

            # -- WSGI, no HTTP ------------------------------------------------------------------
            from bench.passthrough import create_app as passthrough_app
            from gateway.module import build_app

            results["wsgi_passthrough"] = timed(wsgi_caller(passthrough_app(), path, {}), n)
            gateway_app = build_app(settings, tokens)
            time.sleep(1)  # the revocation subscription confirms: the credential cache is live
            results["wsgi_gateway"] = timed(wsgi_caller(gateway_app, path, auth), n)
            results["wsgi_environ_only"] = timed(lambda: EnvironBuilder(path=path, headers=auth).get_environ(), n)

            # -- the gateway's steps, one by one -------------------------------------------------
            from flask import jsonify
            from google.protobuf import json_format

            from gateway.ratelimit import Bucket, RedisRateLimiter
            from gateway.routes import discover

            route = next(r for r in discover() if r.template == "/v1/contacts/{id}" and r.http_method == "GET")
            limiter = RedisRateLimiter(__import__("redis").Redis.from_url(settings.redis_url))
            buckets = [
                Bucket(f"{settings.redis_prefix}:rl:x:c", 10**8, 60),
                Bucket(f"{settings.redis_prefix}:rl:x:t", 10**8, 60),
            ]
            results["step_rate_limit_redis"] = timed(lambda: limiter.check(buckets), n)
            results["step_mint_internal_token"] = timed(lambda: tokens.mint(principal), n)
            reply = plain.GetContact(request, metadata=metadata, timeout=10)
            with gateway_app.app_context():
                results["step_proto_to_json_response"] = timed(
                    lambda: jsonify(json_format.MessageToDict(reply, always_print_fields_with_no_presence=True)), n
                )
            results["step_server_span"] = timed(lambda: spans.start_span("s").end(), n)
            results["step_route_request_class"] = timed(lambda: route.request_class, n)

            # -- HTTP: client x server ----------------------------------------------------------
            gw_pid = worker_pid(suite.processes["gateway"].pid)
            bare_pid = worker_pid(passthrough.pid)
            session = requests.Session()
            for label, base, pid, headers in (
                ("passthrough", bare, bare_pid, {}),
                ("gateway", suite.base, gw_pid, auth),
            ):
                client = KeepAlive(base, headers)
                for client_name, call in (
                    (
                        "requests",
                        lambda b=base, h=headers: session.get(b + path, headers=h, timeout=10).raise_for_status(),
                    ),
                    ("http.client", lambda c=client: c.get(path)),
                ):
                    before = worker_cpu_seconds(pid)
                    figures = timed(call, n)
                    figures["server_cpu_per_call_us"] = round((worker_cpu_seconds(pid) - before) / (n + 50) * 1e6, 1)
                    results[f"http_{label}_{client_name}"] = figures
            results["loadavg"] = os.getloadavg()
        finally:
            if passthrough is not None:
                passthrough.terminate()
                passthrough.wait(20)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
