"""Reading bounce (RFC 3464) and complaint (RFC 5965) reports from captured mail."""

from __future__ import annotations

import datetime as dt

import pytest

from services.integrations.email import mime, reports
from services.integrations.email.reports import Bounce, DeliveryReport, FeedbackReport
from tests.mail_reports import arf, dsn

NOW = dt.datetime(2026, 11, 23, 16, tzinfo=dt.UTC)


def read(raw: bytes) -> reports.Report | None:
    message = mime.message_of(raw)
    return reports.read(message, mime.message_id_of(message, raw))


@pytest.mark.parametrize("headers_part", ["text/rfc822-headers", "message/rfc822"])
def test_a_delivery_status_notification_names_each_bounced_recipient_and_the_original_message(
    headers_part: str,
) -> None:
    raw = dsn(
        "orig-1@acme.example.com",
        [
            ("Ann@Example.com", "failed", "5.1.1"),
            ("bob@example.com", "delayed", "4.4.1"),
            ("cid@example.com", "delivered", "2.0.0"),
        ],
        headers_part=headers_part,
    )
    report = read(raw)
    assert isinstance(report, DeliveryReport)
    assert (report.report_id, report.original_message_id) == ("dsn-1@mx.example.net", "orig-1@acme.example.com")
    assert [(b.recipient, b.action, b.status, b.permanent) for b in report.bounces] == [
        ("ann@example.com", "failed", "5.1.1", True),  # a delay (still tried) and a delivery are no bounce
    ]
    assert report.bounces[0].diagnostic.startswith("smtp; 550 5.1.1 <Ann@Example.com>: Recipient address rejected:")
    assert "User unknown" in report.bounces[0].diagnostic  # the folded line is unfolded


def test_a_failed_action_with_a_transient_status_is_not_permanent() -> None:
    report = read(dsn("o@x", [("ann@example.com", "failed", "4.2.2")]))
    assert isinstance(report, DeliveryReport)
    assert report.bounces == (Bounce("ann@example.com", "4.2.2", "failed", report.bounces[0].diagnostic, False),)


def test_an_abuse_report_names_the_complaining_recipient_and_the_original_message() -> None:
    report = read(arf("orig-2@acme.example.com", "Dee@Example.com"))
    assert report == FeedbackReport("arf-1@fbl.mailbox.example", "orig-2@acme.example.com", "dee@example.com", "abuse")


def test_an_abuse_report_without_original_rcpt_to_takes_the_original_to() -> None:
    report = read(arf("orig-2@acme.example.com", "dee@example.com", with_rcpt_to=False, feedback_type="Fraud"))
    assert isinstance(report, FeedbackReport)
    assert (report.recipient, report.feedback_type) == ("dee@example.com", "fraud")


def test_ordinary_mail_and_other_reports_are_not_bounces() -> None:
    plain = b"From: carol@customer.example.com\r\nSubject: hi\r\nMessage-ID: <p@c>\r\n\r\nhello\r\n"
    assert read(plain) is None
    other = dsn("o@x", [("ann@example.com", "failed", "5.1.1")]).replace(
        b"report-type=delivery-status", b"report-type=disposition-notification"
    )
    assert read(other) is None  # a read receipt (RFC 8098) is mail, not a bounce


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        (dsn("o@x", []), "names no recipient"),
        (dsn("o@x", [("ann@example.com", "failed", "5.1.1")]).replace(b"Action: failed\r\n", b""), "lacks"),
        (
            dsn("o@x", [("ann@example.com", "failed", "5.1.1")]).replace(b"message/delivery-status", b"text/plain"),
            "no message/delivery-status",
        ),
        (arf("o@x", "dee@example.com").replace(b"Feedback-Type: abuse\r\n", b""), "no Feedback-Type"),
        (
            arf("o@x", "dee@example.com").replace(b"message/feedback-report", b"text/plain"),
            "no message/feedback-report",
        ),
    ],
)
def test_a_malformed_report_is_unreadable_never_a_crash_or_a_ticket(raw: bytes, complaint: str) -> None:
    with pytest.raises(mime.Unreadable, match=complaint):
        read(raw)


def test_smtp_refusals_are_hard_for_5xx_and_soft_for_4xx() -> None:
    from services.integrations.email.usecases import refusal_events
    from services.integrations.store import EmailDeliveryRow

    row = EmailDeliveryRow(id="D1", connection_id="C1", message_id="m1@acme.example.com")
    refused: dict[str, tuple[int, bytes | str]] = {
        "Bob@Example.com": (550, b"5.1.1 User unknown"),
        "eve@example.com": (451, "4.3.0 Try later"),
    }
    events = refusal_events(row, refused, NOW)
    assert [(e.recipient, e.status, e.permanent, e.source, e.original_message_id) for e in events] == [
        ("bob@example.com", "550", True, "smtp", "m1@acme.example.com"),
        ("eve@example.com", "451", False, "smtp", "m1@acme.example.com"),
    ]
    assert events[0].diagnostic == "smtp; 550 5.1.1 User unknown" and events[0].delivery_id == "D1"
