"""Tracking tokens and link rewriting (pure): tampering, kinds and foreign keys are refused."""

from __future__ import annotations

import pytest

from services.marketing.domain.tracking import (
    CLICK,
    OPEN,
    UNSUBSCRIBE,
    BadToken,
    Claims,
    Signer,
    TrackingUrls,
    list_unsubscribe_headers,
    track_html,
)

SIGNER = Signer(b"k" * 32)
URLS = TrackingUrls(SIGNER, "https://crm.example.com")


def test_a_token_verifies_for_its_own_kind_only_and_any_change_is_refused() -> None:
    token = SIGNER.sign(CLICK, Claims("T1", "M1", "https://a.example.com/x"))
    assert SIGNER.verify(CLICK, token) == Claims("T1", "M1", "https://a.example.com/x")
    for kind in (OPEN, UNSUBSCRIBE):
        with pytest.raises(BadToken):
            SIGNER.verify(kind, token)
    payload, mac = token.split(".")
    forged_payload = SIGNER.sign(CLICK, Claims("T1", "M1", "https://evil.example.net")).split(".")[0]
    for bad in (f"{forged_payload}.{mac}", f"{payload}.{mac[:-2]}AA", payload, "", "a.b", f"{payload}x.{mac}"):
        with pytest.raises(BadToken):
            SIGNER.verify(CLICK, bad)
    with pytest.raises(BadToken):
        Signer(b"z" * 32).verify(CLICK, token)


def test_links_go_through_the_redirect_the_pixel_goes_before_the_body_end_and_others_stay() -> None:
    body = (
        "<html><body><a href=\"https://a.example.com/?x=1&amp;y=2\">A</a> <A HREF='http://b.example.com'>B</A>"
        '<a href="https://a.example.com/?x=1&amp;y=2">again</a><a href="mailto:x@example.com">m</a>'
        '<a href="https://crm.example.com/u">unsub</a></body></html>'
    )
    tracked = track_html(body, "T1", "M1", URLS, keep="https://crm.example.com/u")
    assert tracked.links == ["https://a.example.com/?x=1&y=2", "http://b.example.com"]
    assert "a.example.com" not in tracked.html_body and "b.example.com" not in tracked.html_body
    assert (
        'href="mailto:x@example.com"' in tracked.html_body and 'href="https://crm.example.com/u"' in tracked.html_body
    )
    assert tracked.html_body.count("/v1/tracking/clicks/") == 3
    assert tracked.html_body.index("/v1/tracking/opens/") < tracked.html_body.index("</body>")
    assert list_unsubscribe_headers("https://crm.example.com/u") == {
        "List-Unsubscribe": "<https://crm.example.com/u>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
