"""Running the suite as real processes for end-to-end tests."""

from __future__ import annotations

import json
import os
import random
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from tests.infra import ALL_CONSUMERS

ROOT = Path(__file__).resolve().parents[2]


_GIVEN: set[int] = set()

# How long a started stack may take to answer: generous, because under `make test` several workers
# start stacks at once on 2 cores (ADR 71), and a stack's start-up is mostly imports, i.e. CPU.
STARTUP_SECONDS = 180.0


def _port_range() -> tuple[int, int]:
    """This test process's share of 20000-31999: pytest-xdist's workers (gw0, gw1, ...) each draw
    from their own slice, so two workers never hand out the same port before either binds it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if not worker.startswith("gw") or count <= 1:
        return 20000, 31999
    size = 12000 // count
    start = 20000 + int(worker[2:]) % count * size
    return start, start + size - 1


def free_port() -> int:
    """A free port below Linux's ephemeral range (32768 and up): a port the kernel picked would be
    free now, but any outgoing connection opened before the process given it binds it (AMQP,
    PostgreSQL, the next test) may take it meanwhile ("Address already in use")."""
    low, high = _port_range()
    while True:
        port = random.randint(low, high)
        if port in _GIVEN:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _GIVEN.add(port)
        return port


def wait_until(condition: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = condition()
            if result:
                return result
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or still starting up
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def all_ready(base: str) -> bool:
    """The gateway is ready and every backend it routes to answers its health check."""
    response = requests.get(f"{base}/readyz", timeout=5)
    return response.status_code == 200 and all(v == "ok" for v in response.json()["backends"].values())


class Suite:
    """Processes of one suite: started with their own logs, stopped (and reported) together."""

    def __init__(self, workdir: Path, env: Mapping[str, str]) -> None:
        self.workdir = workdir
        # A developer's own CRM_* settings must not leak into the suite a test describes.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
        # gunicorn puts its control socket in $XDG_RUNTIME_DIR (else ~/.gunicorn): one per suite, so
        # gateways of suites running side by side (pytest-xdist workers) do not unlink each other's.
        self.env = {**inherited, **env, "PYTHONUNBUFFERED": "1", "XDG_RUNTIME_DIR": str(workdir)}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def crm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "suite.cli", *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"crm {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def create_tenant(self, name: str) -> dict[str, str]:
        created: dict[str, str] = json.loads(self.crm("admin", "create-tenant", name).stdout)
        return created

    def start(self, target: str, name: str | None = None, extra_env: Mapping[str, str] | None = None) -> None:
        name = name or target
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "suite.cli", "run", "--target", target],
            cwd=self.workdir,
            env={**self.env, **(extra_env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def stop(self, name: str, timeout: float = 15.0) -> int:
        process = self.processes.pop(name)
        process.terminate()
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    def stop_all(self, timeout: float = 15.0) -> None:
        """SIGTERM to every process at once, then wait for each: they shut down side by side."""
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + timeout
        for name in list(self.processes):
            self.stop(name, max(0.0, deadline - time.monotonic()))

    def assert_running(self) -> None:
        for name, process in self.processes.items():
            assert process.poll() is None, f"{name} exited with {process.returncode}:\n{self.log(name)}"

    def log(self, name: str, whole: bool = False) -> str:
        path = self.workdir / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return text if whole else text[-4000:]


class Api:
    def __init__(self, base: str, key: str | None) -> None:
        self.base = base
        self.session = requests.Session()
        if key:
            self.session.headers["Authorization"] = f"Bearer {key}"

    def __getattr__(self, method: str) -> Callable[..., requests.Response]:
        def call(path: str, **kwargs: object) -> requests.Response:
            kwargs.setdefault("timeout", 10)
            return self.session.request(method.upper(), self.base + path, **kwargs)  # type: ignore[arg-type]

        return call


def metric(url: str, name: str, labels: Mapping[str, str]) -> float:
    """One sample from a Prometheus text endpoint (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in requests.get(url, timeout=5).text.splitlines():
        if line.startswith(f"{name}{{"):
            series, value = line.rsplit(" ", 1)
            found = ",".join(sorted(series[len(name) + 1 : -1].split(",")))
            if found == wanted:
                return float(value)
    return 0.0


CONSUMER = "marketing.contact-projection"
WEBHOOKS_CONSUMER = "integrations.webhooks"
# Every consumer whose queues `crm migrate` declares: a test removes all of them afterwards.
CONSUMERS = ALL_CONSUMERS


def start_distributed(
    workdir: Path, database_template: str, amqp_url: str, redis_url: str, extra_env: Mapping[str, str]
) -> Suite:
    """Gateway (gunicorn), contacts, marketing and the relay as separate processes, ready to serve.

    The suite gets `base`, `amqp_url`, `redis_url`, `prefix`, `contacts_db`, and `metrics[<process>]`;
    `stop_distributed` stops it and removes what it left in RabbitMQ and Redis.
    """
    from gateway.app import LOCAL_BACKEND
    from gateway.routes import discover

    prefix = f"crmtest-{uuid.uuid4().hex[:8]}"
    # Every service with public routes, or the gateway would (rightly) report it unavailable.
    services = sorted({r.backend for r in discover()} - {LOCAL_BACKEND})
    ports = {name: free_port() for name in ("gateway", *services)}
    env = {
        "CRM_DATABASE_URL": database_template,
        "CRM_BUS": "rabbitmq",
        "CRM_AMQP_URL": amqp_url,
        "CRM_AMQP_PREFIX": prefix,
        "CRM_REDIS_URL": redis_url,
        "CRM_REDIS_PREFIX": prefix,
        "CRM_INTERNAL_TOKEN_SECRET": secrets.token_urlsafe(40),
        "CRM_GATEWAY_ADDR": f"127.0.0.1:{ports['gateway']}",
        **{f"CRM_{name.upper()}_ADDR": f"127.0.0.1:{ports[name]}" for name in services},
        "CRM_RELAY_POLL_SECONDS": "0.05",
        "CRM_RETRY_DELAYS_MS": "100,200,400",
        # Webhooks may go to a receiver the test runs on 127.0.0.1, and retry quickly.
        "CRM_WEBHOOKS_ALLOW_LOOPBACK": "true",
        "CRM_WEBHOOKS_POLL_SECONDS": "0.1",
        "CRM_WEBHOOKS_RETRY_BASE_SECONDS": "0.2",
        **extra_env,
    }
    suite = Suite(workdir, env)
    suite.crm("migrate")
    suite.base = f"http://127.0.0.1:{ports['gateway']}"
    suite.amqp_url, suite.redis_url, suite.prefix = amqp_url, redis_url, prefix
    suite.database_template = database_template
    suite.contacts_db = database_template.replace("{service}", "contacts")
    suite.metrics = {}
    for target in (*services, "relay", "gateway"):
        port = free_port()
        suite.metrics[target] = f"http://127.0.0.1:{port}/metrics"
        suite.start(target, extra_env={"CRM_METRICS_PORT": str(port)})
    try:
        wait_until(lambda: all_ready(suite.base), STARTUP_SECONDS, "the suite to be ready")
    except AssertionError:
        suite.stop_all()
        raise AssertionError("suite not ready:\n" + "\n".join(suite.log(n) for n in ("gateway", "contacts"))) from None
    return suite


@contextmanager
def distributed(
    workdir: Path, database_template: str, amqp_url: str, redis_url: str, extra_env: Mapping[str, str]
) -> Iterator[Suite]:
    """`start_distributed`, stopped (and cleaned up after) when the block ends."""
    suite = start_distributed(workdir, database_template, amqp_url, redis_url, extra_env)
    try:
        yield suite
    finally:
        stop_distributed(suite)


def stop_distributed(suite: Suite) -> None:
    from tests.infra import delete_amqp_prefix, delete_redis_prefix

    suite.stop_all()
    delete_amqp_prefix(suite.amqp_url, suite.prefix, CONSUMERS, retry_tiers=3)
    delete_redis_prefix(suite.redis_url, suite.prefix)


class ModuleView:
    """One test module's view of a suite shared by several: attributes a module sets (its tenant's
    key, say) stay its own; everything else is the shared suite's."""

    def __init__(self, shared: Suite) -> None:
        self.shared = shared

    def __getattr__(self, name: str) -> Any:
        return getattr(self.shared, name)


class Partner(Suite):
    """Contacts, marketing and the relay on PostgreSQL and RabbitMQ, with as many gateways (gunicorn)
    as a test wants, sharing one Redis: what a partner talks to in production."""

    def __init__(self, workdir: Path, env: Mapping[str, str]) -> None:
        super().__init__(workdir, env)
        self.gateways: dict[str, str] = {}

    def start_gateway(self, name: str, extra_env: Mapping[str, str] | None = None) -> str:
        port = free_port()
        env = {"CRM_GATEWAY_ADDR": f"127.0.0.1:{port}", "CRM_METRICS_PORT": "0", **(extra_env or {})}
        self.start("gateway", name, env)
        base = f"http://127.0.0.1:{port}"
        wait_until(
            lambda: requests.get(base + "/healthz", timeout=2).status_code == 200, STARTUP_SECONDS, f"gateway {name}"
        )
        self.gateways[name] = base
        return base
