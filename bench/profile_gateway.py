"""Profile the gateway under the benchmark's load: py-spy records the gunicorn worker while the
GET /v1/contacts/{id} loop runs (a development tool, not part of `make bench`).

    pip install py-spy && python -m bench.profile_gateway --seconds 20 --out /tmp/gateway.txt
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from tests.e2e.otlp import OtlpReceiver
from tests.e2e.support import Api, Suite, start_distributed, stop_distributed
from tests.infra import Databases, postgres_admin_url, rabbitmq_url, redis_url


@contextlib.contextmanager
def traced_suite(name: str) -> Iterator[Suite]:
    """The distributed suite as bench/gateway.py runs it (tracing exported to a receiver, rate
    limits on with a budget a run cannot exhaust), stopped and cleaned up afterwards."""
    receiver = OtlpReceiver()
    env = {**receiver.env(), "CRM_LOG_LEVEL": "WARNING", "CRM_RATE_LIMITS": "read=100000000/60,write=100000000/60"}
    with (
        postgres_admin_url() as admin,
        rabbitmq_url() as amqp,
        redis_url() as redis,
        tempfile.TemporaryDirectory() as wd,
    ):
        databases = Databases(admin)
        suite = start_distributed(Path(wd), databases.template(name), amqp, redis, env)
        try:
            yield suite
        finally:
            stop_distributed(suite)
            receiver.stop()
            databases.drop_all()


def worker_pid(parent: int) -> int:
    children = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True).stdout.split()
    return int(children[0]) if children else parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("gateway-profile.txt"))
    args = parser.parse_args()
    with traced_suite("profile") as suite:
        tenant = suite.create_tenant("Profile")
        api = Api(suite.base, tenant["apiKey"])
        contact = api.post("/v1/contacts", json={"givenName": "P"}).json()["id"]
        stop = threading.Event()

        def load() -> None:
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {tenant['apiKey']}"
            while not stop.is_set():
                session.get(f"{suite.base}/v1/contacts/{contact}", timeout=10).raise_for_status()

        threads = [threading.Thread(target=load) for _ in range(args.concurrency)]
        for thread in threads:
            thread.start()
        time.sleep(2)
        pid = worker_pid(suite.processes["gateway"].pid)
        subprocess.run(
            [
                "py-spy",
                "record",
                "-p",
                str(pid),
                "-d",
                str(args.seconds),
                "-f",
                "raw",
                "-o",
                str(args.out),
                "-r",
                "200",
            ],
            check=True,
        )
        stop.set()
        for thread in threads:
            thread.join()


if __name__ == "__main__":
    main()
