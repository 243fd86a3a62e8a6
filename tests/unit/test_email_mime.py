from __future__ import annotations

import datetime as dt

import pytest
from crm.integrations.v1 import events_pb2

from crmkit.errors import InvalidArgument
from services.integrations.email import mime
from services.support.intake import support_address_of

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def outgoing(**changes: object) -> mime.Outgoing:
    base = dict(
        from_address="help@acme.example.com",
        to_addresses=("Ann@Example.com",),
        cc_addresses=(),
        subject="Hello",
        text_body="Hi",
        html_body="",
        headers={},
        in_reply_to="",
        references=(),
        message_id="",
    )
    base.update(changes)
    return mime.Outgoing(**base)  # type: ignore[arg-type]


def test_compose_threads_and_passes_list_headers_through() -> None:
    message = mime.validate(
        outgoing(
            in_reply_to="<b@x.example.com>",
            references=("<a@x.example.com>",),
            headers={"List-Unsubscribe": "<mailto:u@acme.example.com>"},
            html_body="<p>Hi</p>",
        )
    )
    assert message.message_id.endswith("@acme.example.com")
    raw = mime.compose(message, NOW).as_bytes()
    assert b"In-Reply-To: <b@x.example.com>" in raw
    assert b"References: <a@x.example.com> <b@x.example.com>" in raw
    assert b"List-Unsubscribe: <mailto:u@acme.example.com>" in raw
    assert b"multipart/alternative" in raw


def test_reserved_or_multi_line_headers_and_bad_addresses_are_refused_by_field() -> None:
    with pytest.raises(InvalidArgument) as caught:
        mime.validate(outgoing(to_addresses=("nope",), headers={"From": "x", "X-Evil": "a\r\nBcc: b"}, text_body=""))
    fields = {v.field for v in caught.value.violations}
    assert fields == {"to_addresses[0]", "headers[From]", "headers[X-Evil]", "text_body"}


def test_parse_reads_threading_headers_and_the_text_part() -> None:
    raw = (
        b"From: Carol <Carol@Customer.example.com>\r\nTo: help@acme.example.com\r\nCc: b@x.example.com\r\n"
        b"Subject: =?utf-8?q?Caf=C3=A9?=\r\nMessage-ID: <m2@c.example.com>\r\nIn-Reply-To: <m1@c.example.com>\r\n"
        b"References: <m0@c.example.com>\r\n <m1@c.example.com>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n"
    )
    parsed = mime.parse(raw, NOW)
    assert (parsed.message_id, parsed.in_reply_to, parsed.references) == (
        "m2@c.example.com",
        "m1@c.example.com",
        ("m0@c.example.com", "m1@c.example.com"),
    )
    assert (parsed.from_address, parsed.from_name, parsed.subject) == ("carol@customer.example.com", "Carol", "Café")
    assert parsed.cc_addresses == ("b@x.example.com",) and parsed.text_body.strip() == "Hello"
    assert parsed.received_time == dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)


def test_a_message_without_message_id_gets_a_stable_one_and_without_sender_is_unreadable() -> None:
    raw = b"From: a@b.example.com\r\nSubject: x\r\n\r\nbody\r\n"
    assert mime.parse(raw, NOW).message_id == mime.parse(raw, NOW).message_id
    with pytest.raises(mime.Unreadable):
        mime.parse(b"Subject: x\r\n\r\nbody\r\n", NOW)


def test_support_takes_mail_to_its_addresses_from_support_mailboxes_only() -> None:
    event = events_pb2.InboundEmailReceived(
        to_addresses=["sales@acme.example.com"],
        cc_addresses=["Help@acme.example.com"],
        mailbox_purpose="support",
        support_addresses=["help@acme.example.com"],
    )
    assert support_address_of(event) == "help@acme.example.com"
    event.mailbox_purpose = ""
    assert support_address_of(event) is None
    event.mailbox_purpose, event.cc_addresses[:] = "support", []
    assert support_address_of(event) is None
