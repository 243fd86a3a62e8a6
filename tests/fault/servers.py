"""Private instances of the real servers, started from the machine's own binaries, so that a
fault test can kill -9 and restart them without touching anything shared."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pika
import pytest
import sqlalchemy as sa

from tests.e2e.support import free_port


def _port_open(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _binary(pattern: str, what: str) -> str:
    found = sorted(glob.glob(pattern))
    if not found:
        pytest.fail(f"fault tests need {what} ({pattern}); install it from the distribution's packages", pytrace=False)
    return found[-1]


class PrivateRabbitMQ:
    """A one-node RabbitMQ with its own data directory, port and node name."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port, self.dist_port = free_port(), free_port()
        self.server = _binary("/usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin/rabbitmq-server", "RabbitMQ")
        (workdir / "enabled_plugins").write_text("[].\n")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def start(self, timeout: float = 60) -> None:
        env = {
            **os.environ,
            "HOME": str(self.workdir),
            "RABBITMQ_CONF_ENV_FILE": str(self.workdir / "none.conf"),
            "RABBITMQ_NODENAME": f"crmfault{self.port}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.workdir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.workdir / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.workdir / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.workdir / "rabbitmq"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }
        log = open(self.workdir / "server.log", "ab")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen(
            [self.server], cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                pika.BlockingConnection(pika.URLParameters(self.url)).close()
                return
            except Exception:
                time.sleep(0.3)
        raise AssertionError(f"private RabbitMQ did not start:\n{(self.workdir / 'server.log').read_text()[-2000:]}")

    def kill9(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        while _port_open(self.port):
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


class PrivatePostgres:
    """A PostgreSQL cluster of its own (initdb), run as the postgres user with trust auth."""

    def __init__(self) -> None:
        self.bindir = Path(_binary("/usr/lib/postgresql/*/bin/pg_ctl", "PostgreSQL")).parent
        self.port = free_port()
        # Not under pytest's tmp_path: the postgres user must be able to reach its directory.
        self.workdir = Path(tempfile.mkdtemp(prefix="crm-fault-pg-"))
        self.data = self.workdir / "data"
        shutil.chown(self.workdir, "postgres", "postgres")
        self._as_postgres(self.bindir / "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: object) -> None:
        result = subprocess.run(
            ["runuser", "-u", "postgres", "--", *map(str, args)], capture_output=True, text=True, timeout=120
        )
        if result.returncode != 0:
            raise AssertionError(f"{args[0]} failed: {result.stderr or result.stdout}")

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.workdir} -c max_connections=200"
        self._as_postgres(
            self.bindir / "pg_ctl",
            "-D",
            self.data,
            "-l",
            self.workdir / "server.log",
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def crash(self) -> None:
        """Stop the way a crash does: no checkpoint, so the next start runs crash recovery."""
        self._as_postgres(self.bindir / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._as_postgres(self.bindir / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")
        shutil.rmtree(self.workdir, ignore_errors=True)

    def create_database(self, name: str) -> str:
        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with engine.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.admin_url.rsplit("/", 1)[0] + f"/{name}"
