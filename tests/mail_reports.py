"""Real-shaped bounce and complaint reports for tests: an RFC 3464 delivery status notification as
Postfix writes it, and an RFC 5965 ARF abuse report as a mailbox provider's feedback loop sends it."""

from __future__ import annotations


def dsn(
    original_message_id: str,
    recipients: list[tuple[str, str, str]],
    *,
    report_id: str = "dsn-1@mx.example.net",
    headers_part: str = "text/rfc822-headers",
) -> bytes:
    """A DSN for the message `original_message_id`; `recipients` are (address, action, status)."""
    blocks = "".join(
        f"Final-Recipient: rfc822; {address}\r\n"
        f"Original-Recipient: rfc822;{address}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        f"Remote-MTA: dns; mx.customer.example\r\n"
        f"Diagnostic-Code: smtp; {status[0]}50 {status} <{address}>: Recipient address rejected:\r\n"
        f"    User unknown in virtual mailbox table\r\n"
        "\r\n"
        for address, action, status in recipients
    )
    original = (
        "From: Acme News <news@acme.example.com>\r\n"
        f"To: {recipients[0][0] if recipients else 'someone@example.com'}\r\n"
        "Subject: Spring offers\r\n"
        f"Message-ID: <{original_message_id}>\r\n"
    )
    if headers_part == "message/rfc822":
        original += "Content-Type: text/plain\r\n\r\nHello there\r\n"
    return (
        "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n"
        "To: bounces@acme.example.com\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <{report_id}>\r\n"
        "Date: Mon, 23 Nov 2026 16:00:00 +0000\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="DSN.B1"\r\n'
        "\r\n"
        "--DSN.B1\r\n"
        "Content-Description: Notification\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        "\r\n"
        "--DSN.B1\r\n"
        "Content-Description: Delivery report\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n"
        "X-Postfix-Queue-ID: 4Ab1cD2eFg\r\n"
        "Arrival-Date: Mon, 23 Nov 2026 15:59:58 +0000 (UTC)\r\n"
        "\r\n"
        f"{blocks}"
        "--DSN.B1\r\n"
        "Content-Description: Undelivered Message Headers\r\n"
        f"Content-Type: {headers_part}\r\n"
        "\r\n"
        f"{original}"
        "\r\n"
        "--DSN.B1--\r\n"
    ).encode()


def arf(
    original_message_id: str,
    recipient: str,
    *,
    feedback_type: str = "abuse",
    report_id: str = "arf-1@fbl.mailbox.example",
    with_rcpt_to: bool = True,
) -> bytes:
    """An ARF report: the recipient marked the message `original_message_id` as spam."""
    rcpt = f"Original-Rcpt-To: <{recipient}>\r\n" if with_rcpt_to else ""
    return (
        "From: <feedback@fbl.mailbox.example>\r\n"
        "To: abuse@acme.example.com\r\n"
        "Subject: FW: Spring offers\r\n"
        f"Message-ID: <{report_id}>\r\n"
        "Date: Mon, 23 Nov 2026 16:05:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="ARF.B2"\r\n'
        "\r\n"
        "--ARF.B2\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "This is an email abuse report for an email message received from IP 192.0.2.1.\r\n"
        "\r\n"
        "--ARF.B2\r\n"
        "Content-Type: message/feedback-report\r\n"
        "\r\n"
        f"Feedback-Type: {feedback_type}\r\n"
        "User-Agent: SomeGenerator/1.0\r\n"
        "Version: 1\r\n"
        "Original-Mail-From: <news@acme.example.com>\r\n"
        f"{rcpt}"
        "Arrival-Date: Mon, 23 Nov 2026 15:59:58 +0000\r\n"
        "Source-IP: 192.0.2.1\r\n"
        "Reported-Domain: acme.example.com\r\n"
        "\r\n"
        "--ARF.B2\r\n"
        "Content-Type: message/rfc822\r\n"
        "Content-Disposition: inline\r\n"
        "\r\n"
        "From: Acme News <news@acme.example.com>\r\n"
        f"To: {recipient}\r\n"
        "Subject: Spring offers\r\n"
        f"Message-ID: <{original_message_id}>\r\n"
        "Content-Type: text/plain\r\n"
        "\r\n"
        "Spring offers inside.\r\n"
        "\r\n"
        "--ARF.B2--\r\n"
    ).encode()
