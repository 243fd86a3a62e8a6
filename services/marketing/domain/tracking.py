"""Signed tracking links (open pixel, click redirect, one-click unsubscribe) and the rewriting of a
rendered HTML part so its links go through them. Pure Python, no I/O (docs/adr/0053).

A token is `base64url(JSON [tenant, message id, url]) "." base64url(HMAC-SHA256(key, kind "." payload))`
truncated to 128 bits. The kind ("o", "c", "u") is in the MAC, so an open token is no unsubscribe
token; the tenant is in the payload, so a service answering an anonymous call learns its tenant
from the token alone. A click is redirected only to a URL that is also one of the links stored on
that message: a valid signature alone is not enough, so even a leaked key cannot make the
redirect an open one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import json
import re
from dataclasses import dataclass

OPEN, CLICK, UNSUBSCRIBE = "o", "c", "u"
MAC_BYTES = 16
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
ONE_CLICK = "List-Unsubscribe=One-Click"
_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


@dataclass(frozen=True)
class Claims:
    tenant_id: str
    message_id: str
    url: str = ""


class BadToken(ValueError):
    """Not a token we signed (tampered, truncated, another kind): callers answer 404."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the tracking signing key must be at least 32 bytes")
        self._key = key

    def _mac(self, kind: str, payload: str) -> bytes:
        return hmac.new(self._key, f"{kind}.{payload}".encode(), hashlib.sha256).digest()[:MAC_BYTES]

    def sign(self, kind: str, claims: Claims) -> str:
        payload = _b64(json.dumps([claims.tenant_id, claims.message_id, claims.url], separators=(",", ":")).encode())
        return f"{payload}.{_b64(self._mac(kind, payload))}"

    def verify(self, kind: str, token: str) -> Claims:
        payload, dot, mac = token.partition(".")
        if not dot or not payload or not mac:
            raise BadToken("malformed")
        try:
            given = _unb64(mac)
            values = json.loads(_unb64(payload))
        except (binascii.Error, ValueError):
            raise BadToken("malformed") from None
        if not hmac.compare_digest(given, self._mac(kind, payload)):
            raise BadToken("bad signature")
        if not (isinstance(values, list) and len(values) == 3 and all(isinstance(v, str) for v in values)):
            raise BadToken("malformed claims")
        if not values[0] or not values[1]:
            raise BadToken("malformed claims")
        return Claims(values[0], values[1], values[2])


@dataclass(frozen=True)
class TrackingUrls:
    """Where a message's tracking goes: `{base}/v1/tracking/{opens|clicks|unsubscribes}/{token}`."""

    signer: Signer
    base_url: str

    def open_url(self, tenant_id: str, message_id: str) -> str:
        return f"{self.base_url}/v1/tracking/opens/{self.signer.sign(OPEN, Claims(tenant_id, message_id))}"

    def click_url(self, tenant_id: str, message_id: str, url: str) -> str:
        return f"{self.base_url}/v1/tracking/clicks/{self.signer.sign(CLICK, Claims(tenant_id, message_id, url))}"

    def unsubscribe_url(self, tenant_id: str, message_id: str) -> str:
        token = self.signer.sign(UNSUBSCRIBE, Claims(tenant_id, message_id))
        return f"{self.base_url}/v1/tracking/unsubscribes/{token}"


def is_trackable(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


@dataclass(frozen=True)
class Tracked:
    html_body: str
    # The message's http(s) links in order of appearance, each once: where clicks may be redirected.
    links: list[str]


def track_html(html_body: str, tenant_id: str, message_id: str, urls: TrackingUrls, keep: str = "") -> Tracked:
    """Every http(s) `<a href>` of the part through the click redirect (except `keep`, the
    unsubscribe link), and the open pixel before `</body>` (or at the end)."""
    if not html_body:
        return Tracked("", [])
    links: list[str] = []

    def rewrite(match: re.Match[str]) -> str:
        url = html.unescape(match.group(3)).strip()
        if not is_trackable(url) or url == keep:
            return match.group(0)
        if url not in links:
            links.append(url)
        tracked = html.escape(urls.click_url(tenant_id, message_id, url), quote=True)
        return f"{match.group(1)}{match.group(2)}{tracked}{match.group(2)}"

    body = _HREF.sub(rewrite, html_body)
    pixel = f'<img src="{html.escape(urls.open_url(tenant_id, message_id), quote=True)}" width="1" height="1" alt="">'
    ends = list(_BODY_END.finditer(body))
    if ends:
        at = ends[-1].start()
        body = body[:at] + pixel + body[at:]
    else:
        body += pixel
    return Tracked(body, links)


def list_unsubscribe_headers(unsubscribe_url: str) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe: the HTTPS URI, and the POST body mail clients send to it."""
    return {"List-Unsubscribe": f"<{unsubscribe_url}>", "List-Unsubscribe-Post": ONE_CLICK}
