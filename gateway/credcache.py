"""Verified credentials cached in the gateway process, and revocations broadcast to every process
through Redis pub/sub (docs/adr/0030).

Authenticating an API key costs a database round trip (three with the pool's ping and the
commit); an access token a signature check and a database read. A gateway keeps what it verified
for a short TTL, keyed by a SHA-256 of the credential, tagged with what can revoke it (the key or
client, the signing key, the tenant). Revoking announces the tags: the revoking process drops
them at once and publishes them; every other gateway drops them when the message arrives.

Three rules keep the cache from ever outliving a revocation it could have heard of:
- a verification that started before a revocation arrived is not stored (generation counter);
- while a process is not subscribed (starting, Redis away) it caches nothing and forgets all;
- the TTL bounds what a lost publication could leave behind.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import redis

from crmkit import metrics
from crmkit.tokens import Principal

log = logging.getLogger(__name__)
# A silent subscription (no message, no pong) for this long is taken as lost.
PING_SECONDS = 5.0
DEAD_AFTER_SECONDS = 12.0


def channel_name(redis_prefix: str) -> str:
    return f"{redis_prefix}:credentials:revoked"


@dataclass(frozen=True)
class _Entry:
    principal: Principal
    expires: float
    tags: frozenset[str]


class CredentialCache:
    def __init__(
        self,
        ttl_seconds: float,
        *,
        max_entries: int = 10_000,
        live: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._generation = 0
        self._live = live  # False while revocations may be missed: nothing is cached then

    @staticmethod
    def _key(credential: str) -> str:
        return hashlib.sha256(credential.encode()).hexdigest()

    def get(self, credential: str) -> Principal | None:
        if self.ttl <= 0:
            return None
        key = self._key(credential)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.expires <= self.clock():
                del self._entries[key]
                return None
            return entry.principal

    def generation(self) -> int:
        """Take this before verifying; `put` stores nothing if a revocation came in meanwhile."""
        with self._lock:
            return self._generation

    def put(
        self,
        credential: str,
        principal: Principal,
        tags: Iterable[str],
        generation: int,
        valid_seconds: float | None = None,
    ) -> None:
        lifetime = self.ttl if valid_seconds is None else min(self.ttl, valid_seconds)
        if lifetime <= 0:
            return
        key = self._key(credential)
        with self._lock:
            if not self._live or generation != self._generation:
                return
            now = self.clock()
            if len(self._entries) >= self.max_entries:
                self._entries = {k: e for k, e in self._entries.items() if e.expires > now}
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
            self._entries[key] = _Entry(principal, now + lifetime, frozenset(tags))

    def revoke(self, tags: Iterable[str]) -> None:
        wanted = set(tags)
        with self._lock:
            self._generation += 1
            self._entries = {k: e for k, e in self._entries.items() if not (e.tags & wanted)}

    def suspend(self) -> None:
        """Revocations may be missed from now on: forget everything and cache nothing."""
        with self._lock:
            self._generation += 1
            self._live = False
            self._entries.clear()

    def resume(self) -> None:
        with self._lock:
            self._generation += 1
            self._live = True
            self._entries.clear()

    @property
    def live(self) -> bool:
        return self._live

    def __len__(self) -> int:
        return len(self._entries)


class Revocations:
    """Announces revoked credentials to every gateway process and applies what the others announce."""

    def __init__(self, cache: CredentialCache, client: redis.Redis | None, channel: str) -> None:
        self.cache, self.client, self.channel = cache, client, channel

    def announce(self, *tags: str) -> None:
        """Call after the revocation committed."""
        self.cache.revoke(tags)
        if self.client is None:
            return
        try:
            self.client.publish(self.channel, "\n".join(tags))
        except redis.RedisError as exc:
            # The database says revoked; the other gateways are either cut off from Redis too (and
            # then cache nothing) or drop the entry within the TTL.
            metrics.REVOCATION_PUBLISH_FAILURES.inc()
            log.error("could not broadcast a revocation (%s): other gateways notice within the TTL", exc)

    def listen(self, stop: threading.Event) -> None:
        """Apply revocations published by any gateway until `stop`; run it in a thread."""
        if self.client is None:
            return
        backoff = 0.2
        while not stop.is_set():
            pubsub = self.client.pubsub()
            try:
                pubsub.subscribe(self.channel)
                self._follow(pubsub, stop)
            except (redis.RedisError, OSError) as exc:
                self.cache.suspend()
                log.warning("credential revocations unavailable (%s): caching off until resubscribed", exc)
                stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            else:
                backoff = 0.2
            finally:
                try:
                    pubsub.close()
                except Exception as exc:  # the connection is already gone
                    log.debug("closing the revocation subscription: %s", exc)
        self.cache.suspend()

    def _follow(self, pubsub: redis.client.PubSub, stop: threading.Event) -> None:
        heard = pinged = time.monotonic()
        while not stop.is_set():
            message = pubsub.get_message(timeout=1.0)
            now = time.monotonic()
            if message is not None:
                heard = now
                kind = message.get("type")
                if kind == "subscribe":
                    self.cache.resume()
                elif kind == "message":
                    data = message["data"]
                    text = data.decode() if isinstance(data, bytes) else str(data)
                    self.cache.revoke(text.split("\n"))
            elif now - heard > DEAD_AFTER_SECONDS:
                raise redis.ConnectionError("the revocation subscription went silent")
            if now - pinged > PING_SECONDS:
                pubsub.ping()
                pinged = now


def announce(redis_url: str, redis_prefix: str, *tags: str) -> None:
    """From outside a gateway (the `crm` command line): publish revocations to every gateway."""
    if not redis_url:
        return
    client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        Revocations(CredentialCache(0), client, channel_name(redis_prefix)).announce(*tags)
    finally:
        client.close()
