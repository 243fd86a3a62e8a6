"""Sending one delivery: to the address the SSRF guard checked, with a timeout, without redirects."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import urllib3

from services.integrations.webhooks import addresses
from services.integrations.webhooks.addresses import AddressRefused, Resolver
from services.integrations.webhooks.domain import truncate

MAX_RESPONSE_BYTES = 4096
USER_AGENT = "crm-suite-webhooks/1"


@dataclass(frozen=True)
class Answer:
    status_code: int  # 0: no answer (see error)
    latency_ms: int
    body: str
    error: str


class Sender:
    def __init__(
        self,
        timeout_seconds: float,
        allow_loopback: bool = False,
        resolver: Resolver = addresses.system_resolver,
    ) -> None:
        self.timeout = urllib3.Timeout(connect=min(5.0, timeout_seconds), read=timeout_seconds)
        self.allow_loopback = allow_loopback
        self.resolver = resolver

    def post(self, url: str, headers: Mapping[str, str], body: bytes) -> Answer:
        started = time.monotonic()
        try:
            target = addresses.resolve(url, self.allow_loopback, self.resolver)
        except AddressRefused as exc:
            return Answer(0, 0, "", f"refused: url {exc}")
        default_port = 443 if target.scheme == "https" else 80
        host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
        if ":" in target.host and target.port == default_port:
            host_header = f"[{target.host}]"
        pool: urllib3.HTTPConnectionPool
        if target.scheme == "https":
            # Dial the checked address, but verify the certificate (and send SNI) for the name.
            pool = urllib3.HTTPSConnectionPool(
                target.address,
                target.port,
                timeout=self.timeout,
                retries=False,
                server_hostname=target.host,
                assert_hostname=target.host,
                cert_reqs="CERT_REQUIRED",
            )
        else:
            pool = urllib3.HTTPConnectionPool(target.address, target.port, timeout=self.timeout, retries=False)
        try:
            response = pool.urlopen(
                "POST",
                target.path,
                body=body,
                headers={
                    **headers,
                    "Host": host_header,
                    "Content-Type": "application/json",
                    "User-Agent": USER_AGENT,
                },
                redirect=False,
                preload_content=False,
                assert_same_host=False,
            )
            try:
                raw = response.read(MAX_RESPONSE_BYTES, decode_content=False)
            finally:
                response.release_conn()
            latency = int((time.monotonic() - started) * 1000)
            return Answer(response.status, latency, truncate(raw.decode("utf-8", "replace")), "")
        except urllib3.exceptions.HTTPError as exc:
            latency = int((time.monotonic() - started) * 1000)
            return Answer(0, latency, "", truncate(f"{type(exc).__name__}: {exc}", 500))
        finally:
            pool.close()
