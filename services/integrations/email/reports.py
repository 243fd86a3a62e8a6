"""Machine-written reports about mail we sent, read from captured mail (stdlib `email`). Pure.

- Delivery status notifications, RFC 3464: `multipart/report; report-type=delivery-status` whose
  `message/delivery-status` part holds one per-message block, then one block per recipient
  (`Final-Recipient`, `Original-Recipient`, `Action`, `Status`, `Diagnostic-Code`); the returned
  message (`message/rfc822`) or its headers (`text/rfc822-headers`) carry its Message-ID.
- Abuse/feedback reports, RFC 5965 (ARF): `multipart/report; report-type=feedback-report` whose
  `message/feedback-report` part holds `Feedback-Type` and `Original-Rcpt-To`, then the original
  message or its headers.

`read(message)` answers None for anything else (ordinary mail); a report it cannot make sense of
raises `mime.Unreadable` (the capture keeps it as a dead letter). docs/adr/0067.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.parser import HeaderParser
from email.utils import getaddresses

from services.integrations.email.mime import Unreadable, bare_id

DELIVERY_STATUS, FEEDBACK_REPORT = "delivery-status", "feedback-report"
# The action that says the message will not arrive (RFC 3464 2.3.3). "delayed" (still being tried),
# "delivered", "relayed" and "expanded" are no bounce. A failure with a 4.x.x status (the server
# gave up on a transient error) is a soft bounce, with a 5.x.x status a hard one.
BOUNCE_ACTIONS = frozenset({"failed"})
MAX_DIAGNOSTIC = 1000


@dataclass(frozen=True)
class Bounce:
    recipient: str
    status: str
    action: str
    diagnostic: str
    permanent: bool  # a failure with a 5.x.x status


@dataclass(frozen=True)
class DeliveryReport:
    report_id: str
    original_message_id: str
    bounces: tuple[Bounce, ...]


@dataclass(frozen=True)
class FeedbackReport:
    report_id: str
    original_message_id: str
    recipient: str
    feedback_type: str


Report = DeliveryReport | FeedbackReport


def report_type(message: Message) -> str:
    """ "delivery-status" or "feedback-report" for a report, else ""."""
    if message.get_content_type() != "multipart/report":
        return ""
    kind = str(message.get_param("report-type", "") or "").strip().lower()
    return kind if kind in (DELIVERY_STATUS, FEEDBACK_REPORT) else ""


def _address(value: str) -> str:
    """`rfc822; Ann@Example.com` -> `ann@example.com` (RFC 3464 address-type; address)."""
    kind, _, address = value.partition(";")
    if not address:
        address = kind
    elif kind.strip().lower() != "rfc822":
        return ""
    found = getaddresses([address.strip()])
    found_address = found[0][1] if found else ""
    return found_address.strip().lower() if "@" in found_address else ""


def _original_headers(parts: Sequence[Message]) -> Message | None:
    """The returned message's headers: a `message/rfc822` part or a `text/rfc822-headers` part."""
    for part in parts:
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
        if kind in ("text/rfc822-headers", "message/global-headers"):
            return HeaderParser(policy=policy.default).parsestr(_text(part))
    return None


def _text(part: Message) -> str:
    raw = part.get_payload(decode=True)
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else ""


def _message_id(headers: Message | None) -> str:
    if headers is None:
        return ""
    return bare_id(str(headers.get("Message-ID", "") or ""))


def _fields(part: Message) -> list[Message]:
    """The header blocks of a `message/delivery-status` or `message/feedback-report` part."""
    payload = part.get_payload()
    if isinstance(payload, list):  # the stdlib parses message/delivery-status into blocks
        return [block for block in payload if isinstance(block, Message)]
    text = _text(part).replace("\r\n", "\n")
    return [HeaderParser(policy=policy.default).parsestr(block + "\n") for block in text.split("\n\n") if block.strip()]


def _field(block: Message, name: str) -> str:
    return " ".join(str(block.get(name, "") or "").split())


def _delivery_report(report_id: str, parts: Sequence[Message]) -> DeliveryReport:
    status_part = next((p for p in parts if p.get_content_type() == "message/delivery-status"), None)
    if status_part is None:
        raise Unreadable("the delivery status notification has no message/delivery-status part")
    bounces = []
    for block in _fields(status_part)[1:]:  # the first block is about the message, the rest per recipient
        action = _field(block, "Action").lower()
        recipient = _address(_field(block, "Original-Recipient")) or _address(_field(block, "Final-Recipient"))
        status = _field(block, "Status").split(" ")[0]
        if not recipient or not action or not status:
            raise Unreadable("a recipient of the delivery status notification lacks Final-Recipient, Action or Status")
        if action not in BOUNCE_ACTIONS:
            continue
        bounces.append(
            Bounce(
                recipient=recipient,
                status=status,
                action=action,
                diagnostic=_field(block, "Diagnostic-Code")[:MAX_DIAGNOSTIC],
                permanent=action == "failed" and status.startswith("5"),
            )
        )
    if not bounces and len(_fields(status_part)) < 2:
        raise Unreadable("the delivery status notification names no recipient")
    return DeliveryReport(report_id, _message_id(_original_headers(parts)), tuple(bounces))


def _feedback_report(report_id: str, parts: Sequence[Message]) -> FeedbackReport:
    feedback_part = next((p for p in parts if p.get_content_type() == "message/feedback-report"), None)
    if feedback_part is None:
        raise Unreadable("the feedback report has no message/feedback-report part")
    blocks = _fields(feedback_part)
    fields = blocks[0] if blocks else None
    feedback_type = _field(fields, "Feedback-Type").lower() if fields is not None else ""
    if not feedback_type:
        raise Unreadable("the feedback report has no Feedback-Type")
    original = _original_headers(parts)
    recipient = _address(_field(fields, "Original-Rcpt-To")) if fields is not None else ""
    if not recipient and original is not None:
        to = getaddresses([str(v) for v in original.get_all("To", [])])
        recipient = to[0][1].strip().lower() if to and "@" in to[0][1] else ""
    original_id = _message_id(original)
    if not recipient and not original_id:
        raise Unreadable("the feedback report names neither the recipient nor the original Message-ID")
    return FeedbackReport(report_id, original_id, recipient, feedback_type)


def read(message: EmailMessage, report_id: str) -> Report | None:
    """The report `message` is (its own Message-ID is `report_id`), or None for ordinary mail."""
    kind = report_type(message)
    if not kind:
        return None
    parts = list(message.iter_parts())
    if kind == DELIVERY_STATUS:
        return _delivery_report(report_id, parts)
    return _feedback_report(report_id, parts)


__all__ = ["Bounce", "DeliveryReport", "FeedbackReport", "Report", "read", "report_type"]
