"""The SMTP and IMAP conversations (stdlib smtplib and imaplib), with TLS set up one way.

Errors carry the server's answer, never the password: smtplib and imaplib do not echo credentials,
and nothing here logs at debug level.
"""

from __future__ import annotations

import imaplib
import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from services.integrations.connections import Credentials
from services.integrations.connectors import Step

TIMEOUT_SECONDS = 20.0


def tls_context(credentials: Credentials) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if credentials.connection.data.ca_certificate:
        context.load_verify_locations(cadata=credentials.connection.data.ca_certificate)
    return context


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, tuple):
        return " ".join(_text(v) for v in value)
    return str(value)


class StepFailed(Exception):
    def __init__(self, steps: list[Step]) -> None:
        super().__init__(f"{steps[-1].name}: {steps[-1].detail}")
        self.steps = steps


@contextmanager
def smtp_session(credentials: Credentials, steps: list[Step] | None = None) -> Iterator[smtplib.SMTP]:
    """An SMTP session after EHLO, STARTTLS (or TLS) and AUTH, as the connection says."""
    done = steps if steps is not None else []
    data = credentials.connection.data

    def attempt(name: str, action):  # type: ignore[no-untyped-def]
        try:
            result = action()
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            done.append(Step(name, False, f"{type(exc).__name__}: {_text(exc)}"[:500]))
            raise StepFailed(done) from exc
        done.append(Step(name, True, f"{data.host}:{data.port}" if name == "connect" else _text(result)[:500]))
        return result

    if data.security == "TLS":
        client: smtplib.SMTP = attempt(
            "connect",
            lambda: smtplib.SMTP_SSL(data.host, data.port, timeout=TIMEOUT_SECONDS, context=tls_context(credentials)),
        )
    else:
        client = attempt("connect", lambda: smtplib.SMTP(data.host, data.port, timeout=TIMEOUT_SECONDS))
    try:
        attempt("ehlo", lambda: client.ehlo())
        if data.security == "STARTTLS":
            attempt("starttls", lambda: client.starttls(context=tls_context(credentials)))
            attempt("ehlo", lambda: client.ehlo())
        if data.username:
            attempt("auth", lambda: client.login(data.username, credentials.password))
        yield client
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()


@contextmanager
def imap_session(credentials: Credentials, steps: list[Step] | None = None) -> Iterator[imaplib.IMAP4]:
    """An IMAP session logged in (after STARTTLS or on TLS, as the connection says)."""
    done = steps if steps is not None else []
    data = credentials.connection.data

    def attempt(name: str, action):  # type: ignore[no-untyped-def]
        try:
            result = action()
        except (imaplib.IMAP4.error, OSError, ssl.SSLError) as exc:
            done.append(Step(name, False, f"{type(exc).__name__}: {_text(exc)}"[:500]))
            raise StepFailed(done) from exc
        done.append(Step(name, True, f"{data.host}:{data.port}" if name == "connect" else _text(result)[:500]))
        return result

    if data.security == "TLS":
        client: imaplib.IMAP4 = attempt(
            "connect",
            lambda: imaplib.IMAP4_SSL(
                data.host, data.port, ssl_context=tls_context(credentials), timeout=TIMEOUT_SECONDS
            ),
        )
    else:
        client = attempt("connect", lambda: imaplib.IMAP4(data.host, data.port, timeout=TIMEOUT_SECONDS))
    try:
        if data.security == "STARTTLS":
            attempt("starttls", lambda: client.starttls(ssl_context=tls_context(credentials)))
        attempt("login", lambda: client.login(data.username, credentials.password))
        yield client
    finally:
        with suppress(imaplib.IMAP4.error, OSError):
            client.logout()


def check(credentials: Credentials) -> tuple[bool, list[Step]]:
    """Talk to the server for real; every step tried, and whether all went well."""
    steps: list[Step] = []
    try:
        if credentials.connection.data.type == "SMTP":
            with smtp_session(credentials, steps) as client:
                steps.append(Step("noop", True, _text(client.noop())[:500]))
        else:
            with imap_session(credentials, steps) as client:
                status, found = client.select(_quoted(credentials.connection.data.mailbox), readonly=True)
                if status != "OK":
                    steps.append(Step("select", False, _text(found)[:500]))
                    return False, steps
                steps.append(Step("select", True, f"{_text(found[0])} messages"))
    except StepFailed:
        return False, steps
    return True, steps


def _quoted(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def select(client: imaplib.IMAP4, mailbox: str) -> int:
    """Open the mailbox read-only; answers its UIDVALIDITY."""
    status, data = client.select(_quoted(mailbox), readonly=True)
    if status != "OK":
        raise imaplib.IMAP4.error(f"SELECT {mailbox} failed: {_text(data)}")
    _code, validity = client.response("UIDVALIDITY")
    if not validity or not validity[0]:
        raise imaplib.IMAP4.error(f"{mailbox} has no UIDVALIDITY")
    return int(_text(validity[0]))


def fetch_after(client: imaplib.IMAP4, last_uid: int, limit: int) -> list[tuple[int, bytes]]:
    """Up to `limit` messages of the selected mailbox with a UID above `last_uid`, oldest first."""
    status, found = client.uid("SEARCH", None, f"UID {last_uid + 1}:*")  # type: ignore[arg-type]
    if status != "OK":
        raise imaplib.IMAP4.error(f"UID SEARCH failed: {_text(found)}")
    # `n:*` always matches the newest message, even below n: keep only the new ones.
    uids = sorted(u for u in (int(x) for x in (found[0] or b"").split()) if u > last_uid)[:limit]
    messages: list[tuple[int, bytes]] = []
    for uid in uids:
        status, parts = client.uid("FETCH", str(uid), "(UID BODY.PEEK[])")
        if status != "OK":
            raise imaplib.IMAP4.error(f"UID FETCH {uid} failed: {_text(parts)}")
        raw = next((p[1] for p in parts if isinstance(p, tuple) and len(p) == 2), None)
        if raw is not None:
            messages.append((uid, raw))
    return messages
