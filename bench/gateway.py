"""Gateway: GET /v1/contacts/{id} and a list, through the full gateway (auth, tracing exported over
OTLP, metrics) versus the same call made directly over gRPC and through a bare Flask->gRPC
pass-through under the same gunicorn settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import grpc
import requests
from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc

from bench.measure import KeepAlive, closed_loop, ratio
from crmkit.tokens import InternalTokens, Principal
from tests.e2e.otlp import OtlpReceiver
from tests.e2e.support import ROOT, Api, free_port, start_distributed, stop_distributed, wait_until

CONCURRENCY = 8
# The list every client asks for: one page of a filtered list.
LIST_FILTER = 'givenName = "Bench 1"'
LIST_PAGE_SIZE = 10
PASSTHROUGH_APP = ["--log-level", "warning", "bench.passthrough:create_app()"]
# The gateway's gunicorn settings (gateway/module.py), given to the pass-through too.
GUNICORN = ["-k", "gthread", "-w", "1", "--threads", "16", "--keep-alive", "5", "--timeout", "60"]


def start_passthrough(suite_env: dict[str, str], tenant_id: str) -> tuple[subprocess.Popen[bytes], str]:
    """bench/passthrough.py under gunicorn with the gateway's settings: the process and its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", *GUNICORN, "-b", f"127.0.0.1:{port}", *PASSTHROUGH_APP],
        cwd=ROOT,
        env={**suite_env, "BENCH_TENANT": tenant_id},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return process, f"http://127.0.0.1:{port}"


def run(size: int, workdir: Path, database_template: str, amqp_url: str, redis: str) -> dict[str, Any]:
    receiver = OtlpReceiver()
    # Rate limits stay on (their cost is part of the figure) with a budget the run cannot exhaust.
    env = {**receiver.env(), "CRM_LOG_LEVEL": "WARNING", "CRM_RATE_LIMITS": "read=100000000/60,write=100000000/60"}
    suite = start_distributed(workdir, database_template, amqp_url, redis, env)
    passthrough = None
    try:
        tenant = suite.create_tenant("Bench")
        api = Api(suite.base, tenant["apiKey"])
        contact_id = api.post("/v1/contacts", json={"givenName": "Bench", "email": "bench@example.com"}).json()["id"]
        for n in range(20):
            api.post("/v1/contacts", json={"givenName": f"Bench {n}"})

        passthrough, bare = start_passthrough(suite.env, tenant["tenantId"])
        wait_until(lambda: requests.get(f"{bare}/v1/contacts/{contact_id}", timeout=2).ok, 30, "the pass-through")

        # One client for both HTTP servers: a persistent http.client connection per thread.
        ours = KeepAlive(suite.base, {"Authorization": f"Bearer {tenant['apiKey']}"})
        bare_client = KeepAlive(bare)
        list_path = "/v1/contacts?" + urlencode({"pageSize": LIST_PAGE_SIZE, "filter": LIST_FILTER})
        tokens = InternalTokens(suite.env["CRM_INTERNAL_TOKEN_SECRET"], ttl_seconds=3600)
        token = tokens.mint(Principal(tenant["tenantId"], "bench", frozenset({"admin"})))
        stub = contacts_pb2_grpc.ContactsServiceStub(grpc.insecure_channel(suite.env["CRM_CONTACTS_ADDR"]))
        metadata = [("authorization", f"Bearer {token}")]

        calls = {
            "gateway": lambda: ours.get(f"/v1/contacts/{contact_id}"),
            "passthrough": lambda: bare_client.get(f"/v1/contacts/{contact_id}"),
            "grpc": lambda: stub.GetContact(
                contacts_pb2.GetContactRequest(id=contact_id), metadata=metadata, timeout=10
            ),
        }
        lists = {
            "gateway": lambda: ours.get(list_path),
            "passthrough": lambda: bare_client.get(list_path),
            "grpc": lambda: stub.ListContacts(
                contacts_pb2.ListContactsRequest(page_size=LIST_PAGE_SIZE, filter=LIST_FILTER),
                metadata=metadata,
                timeout=10,
            ),
        }
        get_c = {name: closed_loop(call, size, CONCURRENCY).as_dict() for name, call in calls.items()}
        get_1 = {name: closed_loop(call, max(50, size // 4), 1).as_dict() for name, call in calls.items()}
        list_c = {name: closed_loop(call, max(50, size // 2), CONCURRENCY).as_dict() for name, call in lists.items()}
    finally:
        if passthrough is not None:
            passthrough.terminate()
            passthrough.wait(20)
        stop_distributed(suite)
        receiver.stop()
    throughput_ratio = ratio(get_c["gateway"]["per_second"], get_c["passthrough"]["per_second"])
    added_p50 = round(get_1["gateway"]["p50_ms"] - get_1["grpc"]["p50_ms"], 3)
    return {
        "scenario": "gateway",
        "setup": f"GET /v1/contacts/{{id}}, {size} calls at concurrency {CONCURRENCY} and {max(50, size // 4)} at 1; "
        f"the list: GET /v1/contacts?filter={LIST_FILTER}&pageSize={LIST_PAGE_SIZE}, {max(50, size // 2)} calls at "
        f"concurrency {CONCURRENCY}; every HTTP call over a persistent http.client connection per client thread "
        "(the same client for the gateway and the pass-through); gunicorn gthread, 1 worker x 16 threads, keep-alive "
        "5 s, for both; API-key auth (credential cache on, revocations broadcast), OTLP tracing "
        "and metrics on; rate limits on (both GCRA buckets in one Redis call) with a budget the run cannot exhaust",
        "ours": {f"get_c{CONCURRENCY}": get_c["gateway"], "get_c1": get_1["gateway"], "list": list_c["gateway"]},
        "baselines": {
            "bare_passthrough": {
                f"get_c{CONCURRENCY}": get_c["passthrough"],
                "get_c1": get_1["passthrough"],
                "list": list_c["passthrough"],
            },
            "direct_grpc": {f"get_c{CONCURRENCY}": get_c["grpc"], "get_c1": get_1["grpc"], "list": list_c["grpc"]},
        },
        "ratios": {
            "throughput_vs_passthrough": throughput_ratio,
            "p50_added_ms_vs_direct_grpc_c1": added_p50,
            "list_throughput_vs_passthrough": ratio(
                list_c["gateway"]["per_second"], list_c["passthrough"]["per_second"]
            ),
        },
        "goals": {
            "throughput >= 80% of the bare pass-through": throughput_ratio >= 0.8,
            "< 1 ms added to p50 at concurrency 1 vs direct gRPC": added_p50 < 1.0,
        },
    }
