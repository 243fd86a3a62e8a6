"""Building outgoing messages and reading captured ones (stdlib `email`, policy=default). Pure."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, getaddresses, make_msgid, parsedate_to_datetime

from email_validator import EmailNotValidError, validate_email

from crmkit.errors import Validator

MAX_RECIPIENTS = 100
MAX_SUBJECT = 998
MAX_BODY = 2 * 1024 * 1024
# Headers the request's own fields set; a pass-through header may not replace them.
RESERVED_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "message-id",
        "date",
        "in-reply-to",
        "references",
        "mime-version",
        "sender",
        "reply-to-all",
        "return-path",
    }
)
HEADER_NAME = re.compile(r"^[!-9;-~]{1,76}$")  # printable, no colon (RFC 5322 field name)
MESSAGE_ID = re.compile(r"<([^<>\s]+)>")


@dataclass(frozen=True)
class Outgoing:
    from_address: str
    to_addresses: tuple[str, ...]
    cc_addresses: tuple[str, ...]
    subject: str
    text_body: str
    html_body: str
    headers: Mapping[str, str]
    in_reply_to: str
    references: tuple[str, ...]
    message_id: str


def bare_id(value: str) -> str:
    """A Message-ID without angle brackets or spaces."""
    return value.strip().strip("<>").strip()


def _addresses(check: Validator, name: str, values: Sequence[str]) -> tuple[str, ...]:
    out = []
    for i, value in enumerate(values):
        try:
            out.append(validate_email(value.strip(), check_deliverability=False).normalized)
        except EmailNotValidError as exc:
            check.add(f"{name}[{i}]", f"must be an email address: {exc}")
    return tuple(dict.fromkeys(out))


def validate(outgoing: Outgoing) -> Outgoing:
    check = Validator()
    to = _addresses(check, "to_addresses", outgoing.to_addresses)
    cc = _addresses(check, "cc_addresses", outgoing.cc_addresses)
    if not outgoing.to_addresses:
        check.add("to_addresses", "at least one recipient is required")
    if len(to) + len(cc) > MAX_RECIPIENTS:
        check.add("to_addresses", f"at most {MAX_RECIPIENTS} recipients in all")
    sender = _addresses(check, "from_address", [outgoing.from_address])
    subject = check.text("subject", outgoing.subject, MAX_SUBJECT)
    if not outgoing.text_body.strip() and not outgoing.html_body.strip():
        check.add("text_body", "a text or an HTML body is required")
    for name, value in (("text_body", outgoing.text_body), ("html_body", outgoing.html_body)):
        if len(value) > MAX_BODY:
            check.add(name, f"must be at most {MAX_BODY} characters")
    for name, value in outgoing.headers.items():
        if not HEADER_NAME.match(name) or name.lower() in RESERVED_HEADERS or name.lower().startswith("content-"):
            check.add(f"headers[{name}]", "is not a header that may be passed through")
        elif "\r" in value or "\n" in value or len(value) > 2000:
            check.add(f"headers[{name}]", "must be one line of at most 2000 characters")
    for name, value in (("in_reply_to", outgoing.in_reply_to), ("message_id", outgoing.message_id)):
        check.text(name, value, 998)
    references = tuple(bare_id(r) for r in outgoing.references if bare_id(r))
    check.raise_if_any()
    return Outgoing(
        sender[0] if sender else "",
        to,
        cc,
        subject,
        outgoing.text_body,
        outgoing.html_body,
        dict(outgoing.headers),
        bare_id(outgoing.in_reply_to),
        references,
        bare_id(outgoing.message_id) or bare_id(make_msgid(domain=_domain(sender[0] if sender else ""))),
    )


def _domain(address: str) -> str:
    return address.rpartition("@")[2] or "localhost"


def compose(outgoing: Outgoing, now: dt.datetime) -> EmailMessage:
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = outgoing.from_address
    message["To"] = ", ".join(outgoing.to_addresses)
    if outgoing.cc_addresses:
        message["Cc"] = ", ".join(outgoing.cc_addresses)
    message["Subject"] = outgoing.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = f"<{outgoing.message_id}>"
    if outgoing.in_reply_to:
        message["In-Reply-To"] = f"<{outgoing.in_reply_to}>"
    references = list(outgoing.references)
    if outgoing.in_reply_to and outgoing.in_reply_to not in references:
        references.append(outgoing.in_reply_to)
    if references:
        message["References"] = " ".join(f"<{r}>" for r in references)
    for name, value in outgoing.headers.items():
        message[name] = value
    message.set_content(outgoing.text_body or " ")
    if outgoing.html_body:
        message.add_alternative(outgoing.html_body, subtype="html")
    return message


@dataclass(frozen=True)
class Incoming:
    message_id: str
    in_reply_to: str
    references: tuple[str, ...]
    from_address: str
    from_name: str
    to_addresses: tuple[str, ...]
    cc_addresses: tuple[str, ...]
    subject: str
    text_body: str
    received_time: dt.datetime


class Unreadable(ValueError):
    """A captured message lacks what an InboundEmailReceived needs (kept as a dead letter)."""


def _ids(value: str | None) -> tuple[str, ...]:
    return tuple(MESSAGE_ID.findall(value or "")) or ((bare_id(value),) if value and bare_id(value) else ())


def message_of(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def message_id_of(message: EmailMessage, raw: bytes) -> str:
    """The Message-ID without brackets; without one, a stable id from the content (so a re-capture
    still deduplicates)."""
    message_id = (_ids(str(message.get("Message-ID", ""))) or ("",))[0]
    return message_id or hashlib.sha256(raw).hexdigest()[:40] + "@no-message-id.invalid"


def parse(raw: bytes, now: dt.datetime) -> Incoming:
    return incoming(message_of(raw), raw, now)


def incoming(message: EmailMessage, raw: bytes, now: dt.datetime) -> Incoming:
    senders = getaddresses([str(message.get("From", ""))])
    name, address = senders[0] if senders else ("", "")
    if "@" not in address:
        raise Unreadable("the message has no From address")
    message_id = message_id_of(message, raw)
    body = message.get_body(preferencelist=("plain", "html"))
    text = ""
    if body is not None:
        content = body.get_content()
        text = content if isinstance(content, str) else ""
        if body.get_content_subtype() == "html":
            text = re.sub(r"<[^>]+>", " ", text)
    try:
        received = parsedate_to_datetime(str(message["Date"])) if message["Date"] else now
        if received.tzinfo is None:
            received = received.replace(tzinfo=dt.UTC)
    except (TypeError, ValueError):
        received = now
    return Incoming(
        message_id=message_id,
        in_reply_to=(_ids(str(message.get("In-Reply-To", ""))) or ("",))[0],
        references=_ids(str(message.get("References", ""))),
        from_address=address.lower(),
        from_name=name,
        to_addresses=tuple(a.lower() for _, a in getaddresses([str(v) for v in message.get_all("To", [])]) if a),
        cc_addresses=tuple(a.lower() for _, a in getaddresses([str(v) for v in message.get_all("Cc", [])]) if a),
        subject=str(message.get("Subject", "")),
        text_body=text[:MAX_BODY],
        received_time=received.astimezone(dt.UTC),
    )


__all__ = [
    "Incoming",
    "Outgoing",
    "Unreadable",
    "compose",
    "incoming",
    "message_id_of",
    "message_of",
    "parse",
    "validate",
]
