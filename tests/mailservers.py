"""Real mail servers for tests, private to the test: an aiosmtpd SMTP server on loopback (STARTTLS
with a self-signed certificate made here, AUTH required) and a Dovecot IMAP server with its own
configuration, users and maildirs in a temporary folder (no system auth, nothing shared)."""

from __future__ import annotations

import datetime as dt
import imaplib
import ipaddress
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.e2e.support import free_port


@dataclass(frozen=True)
class Certificate:
    cert_pem: str
    key_pem: str

    def write(self, folder: Path) -> tuple[Path, Path]:
        cert, key = folder / "cert.pem", folder / "key.pem"
        cert.write_text(self.cert_pem)
        key.write_text(self.key_pem)
        os.chmod(key, 0o644)
        return cert, key


def self_signed() -> Certificate:
    """A certificate for localhost / 127.0.0.1, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Certificate(
        cert.public_bytes(serialization.Encoding.PEM).decode(),
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
    )


# --- SMTP ---


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class SmtpServer:
    """aiosmtpd on loopback: STARTTLS required before AUTH, AUTH required before MAIL."""

    certificate: Certificate
    username: str = "mailer"
    password: str = "s3cret-smtp-pass"
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    auth_attempts: list[str] = field(default_factory=list)
    # Recipients refused at RCPT TO, with the reply ("550 5.1.1 User unknown", "450 4.2.1 Busy").
    refuse: dict[str, str] = field(default_factory=dict)
    controller: Any = None

    def start(self, folder: Path) -> SmtpServer:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        cert, key = self.certificate.write(folder)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        server = self

        class Handler:
            async def handle_RCPT(
                self, _server: Any, _session: Any, envelope: Any, address: str, _options: list[str]
            ) -> str:
                if address.lower() in server.refuse:
                    return server.refuse[address.lower()]
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
                server.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
                return "250 OK queued"

        def authenticator(_server: Any, _session: Any, _envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and data.login.decode() == server.username
            ok = ok and data.password.decode() == server.password
            server.auth_attempts.append(mechanism)
            return AuthResult(success=ok, handled=False)

        self.controller = Controller(
            Handler(),
            hostname="127.0.0.1",
            port=self.port,
            tls_context=context,
            require_starttls=True,
            authenticator=authenticator,
            auth_required=True,
            auth_require_tls=True,
        )
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()


# --- IMAP (Dovecot) ---

DOVECOT = "/usr/sbin/dovecot"


def ensure_dovecot() -> None:
    """Install Debian's dovecot-imapd when it is missing; fail loudly when that is impossible."""
    if shutil.which("dovecot") or Path(DOVECOT).exists():
        return
    installed = subprocess.run(["dpkg", "-s", "dovecot-imapd"], capture_output=True).returncode == 0
    if not installed:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        result = subprocess.run(
            ["apt-get", "install", "-y", "-q", "dovecot-imapd"], capture_output=True, text=True, env=env
        )
        if result.returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env)
            result = subprocess.run(
                ["apt-get", "install", "-y", "-q", "dovecot-imapd"], capture_output=True, text=True, env=env
            )
        if result.returncode != 0:
            pytest.fail(f"cannot install dovecot-imapd for the IMAP tests:\n{result.stderr[-2000:]}", pytrace=False)
    if not Path(DOVECOT).exists():
        pytest.fail("dovecot-imapd is installed but /usr/sbin/dovecot is missing", pytrace=False)


class PrivateDovecot:
    """A Dovecot of its own: config, passwd-file, maildirs and sockets in a temporary folder."""

    def __init__(self, certificate: Certificate, users: dict[str, str]) -> None:
        ensure_dovecot()
        self.users = users
        self.port = free_port()
        # Not under pytest's tmp_path: Dovecot's unprivileged processes must reach the folder.
        self.workdir = Path(tempfile.mkdtemp(prefix="crm-dovecot-"))
        os.chmod(self.workdir, 0o755)
        self.mail = self.workdir / "mail"
        self.mail.mkdir()
        cert, key = certificate.write(self.workdir)
        (self.workdir / "passwd").write_text("".join(f"{u}:{{PLAIN}}{p}::::::\n" for u, p in users.items()))
        for user in users:
            (self.mail / user).mkdir()
        shutil.chown(self.mail, "nobody", "nogroup")
        for user in users:
            shutil.chown(self.mail / user, "nobody", "nogroup")
        uid, gid = 65534, 65534  # nobody:nogroup
        (self.workdir / "dovecot.conf").write_text(
            f"""
base_dir = {self.workdir}/run
state_dir = {self.workdir}/state
log_path = {self.workdir}/dovecot.log
instance_name = crm-dovecot-{self.port}
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{self.mail}/%u:INDEX=MEMORY
first_valid_uid = {uid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.workdir}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={self.mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20) -> PrivateDovecot:
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.workdir / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=open(self.workdir / "stderr.log", "ab"),  # noqa: SIM115 - owned by the process
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                imaplib.IMAP4("127.0.0.1", self.port, timeout=2).logout()
                return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        logs = "".join(p.read_text()[-2000:] for p in self.workdir.glob("*.log") if p.exists())
        raise AssertionError(f"private Dovecot did not start:\n{logs}")

    def append(self, user: str, raw: bytes, mailbox: str = "INBOX") -> None:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        try:
            client.login(user, self.users[user])
            status, detail = client.append(mailbox, None, None, raw)
            assert status == "OK", detail
        finally:
            client.logout()

    def change_uidvalidity(self, user: str) -> None:
        """Renumber the user's INBOX as a server would after a rebuild: a new UIDVALIDITY."""
        uidlist = self.mail / user / "dovecot-uidlist"
        lines = uidlist.read_text().splitlines()
        header = lines[0].split()
        header = [f"V{int(h[1:]) + 1000}" if h.startswith("V") else h for h in header]
        uidlist.write_text("\n".join([" ".join(header), *lines[1:]]) + "\n")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        shutil.rmtree(self.workdir, ignore_errors=True)


def smtp_connection(smtp: SmtpServer, certificate: Certificate, password: str, purpose: str = "") -> Any:
    """The integrations connection (a Connection message) that sends through this server."""
    from crm.integrations.v1 import connections_pb2

    conn = connections_pb2.Connection
    return conn(
        type=conn.SMTP,
        display_name="Outbound mail",
        host="localhost",
        port=smtp.port,
        security=conn.STARTTLS,
        username=smtp.username,
        password=password,
        from_address="help@acme.example.com",
        purpose=purpose,
        ca_certificate=certificate.cert_pem,
    )
