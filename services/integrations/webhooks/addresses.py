"""The SSRF guard: a webhook URL may only lead to a public address (docs/adr/0040).

Checked when a subscription is created or changed, and again before every send, on the addresses
the name resolves to then; the sender connects to the address that was checked, so a DNS answer
that changes in between (rebinding) cannot redirect it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

# Cloud instance metadata endpoints (AWS, GCP, Azure, Oracle, Alibaba), named so that the refusal says so.
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "169.254.170.2", "192.0.0.192", "100.100.100.200")
)
MAX_URL_LENGTH = 2048


class AddressRefused(ValueError):
    """The URL is malformed or leads somewhere a webhook must not go; the message says why."""


@dataclass(frozen=True)
class Target:
    """Where to connect: the URL's parts and the checked address to dial instead of the name."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


def forbidden_reason(address: IPAddress, allow_loopback: bool = False) -> str | None:
    """Why a webhook must not be sent to `address` (None: it may)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None:
            return forbidden_reason(embedded, allow_loopback)
    if address in METADATA:
        return "a cloud metadata address"
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "a reserved address"
    return None


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def parse(url: str, allow_loopback: bool) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of a URL a webhook may use; AddressRefused otherwise."""
    if len(url) > MAX_URL_LENGTH:
        raise AddressRefused(f"must be at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise AddressRefused("is not a valid URL") from None
    schemes = ("https", "http") if allow_loopback else ("https",)
    if parts.scheme not in schemes:
        raise AddressRefused("must be an https URL")
    if not parts.hostname or any(c.isspace() for c in url):
        raise AddressRefused("must be an absolute URL with a host")
    if parts.username or parts.password:
        raise AddressRefused("must not carry credentials")
    if parts.fragment:
        raise AddressRefused("must not have a fragment")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def resolve(url: str, allow_loopback: bool = False, resolver: Resolver = system_resolver) -> Target:
    """The URL's target with a checked address; refused when any address of the name is forbidden."""
    scheme, host, port, path = parse(url, allow_loopback)
    addresses = resolver(host, port)
    if not addresses:
        raise AddressRefused(f"host {host!r} does not resolve")
    for raw in addresses:
        address = ipaddress.ip_address(raw.split("%", 1)[0])
        reason = forbidden_reason(address, allow_loopback)
        if reason:
            raise AddressRefused(f"resolves to {reason} ({address}); webhooks go to public addresses only")
    return Target(scheme, host, port, path, addresses[0].split("%", 1)[0])
