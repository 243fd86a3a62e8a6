"""API keys: generated with a public prefix and a secret; only a hash of the whole key is stored.

Keys carry 256 bits of randomness, so a fast hash (SHA-256) is the right tool: a slow password
hash adds nothing against brute force of such keys and costs every request (ADR 0004).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

KEY_PATTERN = re.compile(r"^crm_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$")
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


@dataclass(frozen=True)
class NewKey:
    prefix: str
    secret_key: str  # shown once, never stored
    key_hash: str


def generate() -> NewKey:
    prefix = "".join(secrets.choice(ALPHABET) for _ in range(12))
    key = f"crm_{prefix}_{secrets.token_urlsafe(32)}"
    return NewKey(prefix, key, hash_key(key))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_prefix(key: str) -> str | None:
    match = KEY_PATTERN.match(key)
    return match.group(1) if match else None


def matches(key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_key(key), stored_hash)
