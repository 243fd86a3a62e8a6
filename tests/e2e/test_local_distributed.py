"""`make up-distributed`: every target its own process, with replicas, on one machine."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import uuid

import pytest
import requests

from tests.e2e.support import CONSUMER, CONSUMERS, ROOT, Api, Suite, metric, wait_until
from tests.infra import delete_amqp_prefix

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, databases, amqp_url, redis_server):
    workdir = tmp_path_factory.mktemp("local-cluster")
    prefix = f"crmtest-{uuid.uuid4().hex[:8]}"
    env = {
        "CRM_DATABASE_URL": databases.template("cluster"),
        "CRM_AMQP_URL": amqp_url,
        "CRM_AMQP_PREFIX": prefix,
        "CRM_REDIS_URL": redis_server,
        "CRM_REDIS_PREFIX": prefix,
        "CRM_INTERNAL_TOKEN_SECRET": "c" * 40,
        "CRM_RELAY_POLL_SECONDS": "0.05",
    }
    suite = Suite(workdir, env)  # for `crm admin` with the same settings
    ready_file = workdir / "ready.json"
    log = open(workdir / "cluster.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tools" / "run_distributed.py"),
            "--replicas",
            "contacts=2,marketing=2,relay=2",
            "--gateway-port",
            "0",
            "--base-port",
            "0",
            "--metrics-base-port",
            "0",
            "--ready-file",
            str(ready_file),
        ],
        cwd=workdir,
        env=suite.env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: ready_file.exists() or process.poll() is not None, 90, "the local cluster")
        assert process.poll() is None, (workdir / "cluster.log").read_text()[-3000:]
        yield suite, json.loads(ready_file.read_text()), process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(30)
        log.close()
        delete_amqp_prefix(amqp_url, prefix, CONSUMERS, retry_tiers=3)


def test_every_target_runs_as_its_own_process_with_replicas(cluster):
    _, description, _ = cluster
    targets = sorted(p["target"] for p in description["processes"].values())
    assert targets.count("contacts") == 2 and targets.count("marketing") == 2 and targets.count("relay") == 2
    assert {"gateway", "sales", "support", "integrations"} <= set(targets)


def test_calls_spread_over_replicas_and_events_reach_competing_consumers(cluster):
    suite, description, _ = cluster
    api = Api(description["gateway"], suite.create_tenant("Cluster")["apiKey"])
    created = [api.post("/v1/contacts", json={"givenName": f"R{n}"}).json()["id"] for n in range(8)]
    for contact_id in created:
        wait_until(lambda c=contact_id: api.get(f"/v1/audienceMembers/{c}").status_code == 200, what="projection")
    handled = [
        metric(
            p["metrics"],
            "crm_grpc_server_handled_total",
            {"service": "contacts", "method": "CreateContact", "code": "OK"},
        )
        for p in description["processes"].values()
        if p["target"] == "contacts"
    ]
    assert sum(handled) == 8 and all(n > 0 for n in handled), f"round-robin over both replicas: {handled}"
    processed = sum(
        metric(p["metrics"], "crm_events_consumed_total", {"consumer": CONSUMER, "outcome": "processed"})
        for p in description["processes"].values()
        if p["target"] == "marketing"
    )
    assert processed == 8, "each event handled once across the competing replicas"
    assert all(requests.get(p["metrics"], timeout=5).ok for p in description["processes"].values())


def test_ctrl_c_stops_every_process(cluster):
    _, _, process = cluster
    process.send_signal(signal.SIGINT)
    assert process.wait(30) == 0
