"""Run the suite as separate processes on PostgreSQL, RabbitMQ and Redis (`make up-distributed`).

Every target gets its own process, a service may run several replicas (`--replicas contacts=2`):
each replica binds its own port, the gateway dials them all with gRPC round-robin, and replicas of
a consumer compete for its one queue. This is the distributed path on one machine, without
Kubernetes. Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from crmkit.signals import stop_on_signals

SERVICES = ("contacts", "sales", "support", "marketing", "integrations")
DEFAULTS = {
    "CRM_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/crm_{service}",
    "CRM_BUS": "rabbitmq",
    "CRM_AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/%2F",
    "CRM_REDIS_URL": "redis://127.0.0.1:6379/0",
}


def parse_replicas(values: list[str]) -> dict[str, int]:
    replicas: dict[str, int] = {}
    for value in ",".join(values).split(","):
        if not value.strip():
            continue
        name, _, count = value.partition("=")
        if name not in (*SERVICES, "relay") or not count.isdigit() or int(count) < 1:
            raise SystemExit(f"--replicas: expected <service or relay>=<n>, got {value!r}")
        replicas[name] = int(count)
    return replicas


_given: set[int] = set()


def ports(start: int) -> Iterator[int]:
    """Consecutive ports from `start`, or free ones the kernel picks when `start` is 0 (never one twice)."""
    port = start
    while True:
        if start == 0:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = int(s.getsockname()[1])
            if port in _given:
                continue
        _given.add(port)
        yield port
        if start != 0:
            port += 1


class Supervisor:
    def __init__(self) -> None:
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.stopping = threading.Event()

    def start(self, name: str, args: list[str], env: dict[str, str]) -> None:
        child = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.children[name] = child
        threading.Thread(target=self._forward, args=(name, child), daemon=True).start()

    def _forward(self, name: str, child: subprocess.Popen[bytes]) -> None:
        assert child.stdout is not None
        for line in child.stdout:
            sys.stdout.write(f"[{name}] {line.decode(errors='replace')}")
            sys.stdout.flush()

    def first_exited(self) -> str | None:
        return next((n for n, c in self.children.items() if c.poll() is not None), None)

    def stop_all(self) -> None:
        self.stopping.set()
        for child in self.children.values():
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 20
        for child in self.children.values():
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()


def ready(url: str) -> bool:
    """The gateway is ready and reports every backend healthy."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            backends = json.load(response).get("backends", {})
            return bool(response.status == 200 and all(v == "ok" for v in backends.values()))
    except (OSError, ValueError):
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--replicas",
        default="contacts=2,marketing=2,relay=2",
        help="e.g. contacts=3,relay=2 (default: contacts=2,marketing=2,relay=2)",
    )
    parser.add_argument("--gateway-port", type=int, default=8080)
    parser.add_argument("--base-port", type=int, default=50100, help="first gRPC port; 0 picks free ports")
    parser.add_argument("--metrics-base-port", type=int, default=9500, help="first metrics port; 0 picks free ports")
    parser.add_argument("--ready-file", type=Path, help="write a JSON description here once the suite is ready")
    args = parser.parse_args()
    replicas = parse_replicas([args.replicas])

    env = {**os.environ}
    for key, value in DEFAULTS.items():
        env.setdefault(key, value)
    env.setdefault("CRM_INTERNAL_TOKEN_SECRET", secrets.token_urlsafe(40))
    gateway_port = args.gateway_port or next(ports(0))
    env["CRM_GATEWAY_ADDR"] = f"127.0.0.1:{gateway_port}"
    grpc_ports, metrics_ports = ports(args.base_port), ports(args.metrics_base_port)

    plan: dict[str, dict[str, str]] = {}
    for service in SERVICES:
        own = [next(grpc_ports) for _ in range(replicas.get(service, 1))]
        addresses = ",".join(f"127.0.0.1:{p}" for p in own)
        env[f"CRM_{service.upper()}_ADDR"] = addresses if len(own) == 1 else f"ipv4:{addresses}"
        for index, port in enumerate(own, 1):
            plan[f"{service}-{index}"] = {"target": service, "CRM_GRPC_PORT": str(port)}
    for index in range(1, replicas.get("relay", 1) + 1):
        plan[f"relay-{index}"] = {"target": "relay"}
    plan["gateway"] = {"target": "gateway"}
    for entry in plan.values():
        entry["CRM_METRICS_PORT"] = str(next(metrics_ports))

    crm = [sys.executable, "-m", "suite.cli"]
    migrated = subprocess.run([*crm, "migrate"], env=env)
    if migrated.returncode != 0:
        return migrated.returncode
    supervisor = Supervisor()
    stop_on_signals(supervisor.stopping)
    for name, entry in plan.items():
        child_env = {**env, **{k: v for k, v in entry.items() if k != "target"}}
        supervisor.start(name, [*crm, "run", "--target", entry["target"]], child_env)

    gateway = f"http://127.0.0.1:{gateway_port}"
    while not supervisor.stopping.is_set() and not ready(f"{gateway}/readyz"):
        if (dead := supervisor.first_exited()) is not None:
            print(f"run_distributed: {dead} exited during start-up", file=sys.stderr)
            supervisor.stop_all()
            return 1
        time.sleep(0.2)
    description = {
        "gateway": gateway,
        "processes": {
            name: {
                "target": e["target"],
                "grpcPort": e.get("CRM_GRPC_PORT"),
                "metrics": f"http://127.0.0.1:{e['CRM_METRICS_PORT']}/metrics",
            }
            for name, e in plan.items()
        },
    }
    if args.ready_file:
        args.ready_file.write_text(json.dumps(description))
    print(f"\n  CRM suite (distributed): gateway on {gateway}; {len(plan)} processes:", flush=True)
    for name, entry in description["processes"].items():
        print(f"    {name:16} {entry['metrics']}", flush=True)
    print("  Create a tenant with the same environment: .venv/bin/crm admin create-tenant acme\n", flush=True)

    while not supervisor.stopping.is_set():
        if (dead := supervisor.first_exited()) is not None and not supervisor.stopping.is_set():
            print(f"run_distributed: {dead} exited; stopping the suite", file=sys.stderr)
            supervisor.stop_all()
            return 1
        supervisor.stopping.wait(0.5)
    supervisor.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
