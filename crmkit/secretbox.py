"""Secrets kept at rest (connection passwords, tokens), encrypted under rotating keys.

`cryptography`'s Fernet (AES-CBC + HMAC) under MultiFernet: the first key of the list seals, every
key opens, so rotation is "put a new key first, re-seal, then drop the old key". A key id (a short
hash of the key, never the key) tells which key sealed a value, so progress of a rotation shows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretBoxError(ValueError):
    """A key is malformed, or a value was sealed by none of the keys (or was altered)."""


def new_key() -> str:
    return Fernet.generate_key().decode()


def key_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:12]


class SecretBox:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise SecretBoxError("a secret box needs at least one key")
        try:
            self._fernets = [Fernet(k.encode()) for k in keys]
        except (ValueError, TypeError):
            raise SecretBoxError("each key must be a Fernet key (32 url-safe base64 bytes)") from None
        self._ids = [key_id(k) for k in keys]
        self._multi = MultiFernet(self._fernets)

    @property
    def current_key_id(self) -> str:
        return self._ids[0]

    def seal(self, plaintext: str) -> str:
        return self._multi.encrypt(plaintext.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._multi.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise SecretBoxError("sealed with none of the configured keys (or altered)") from None

    def rotate(self, sealed: str) -> str:
        """The same secret sealed under the newest key."""
        try:
            return self._multi.rotate(sealed.encode()).decode()
        except InvalidToken:
            raise SecretBoxError("sealed with none of the configured keys (or altered)") from None

    def key_id_of(self, sealed: str) -> str:
        """The id of the key that sealed the value ("" when none of ours did)."""
        for fernet, ident in zip(self._fernets, self._ids, strict=True):
            try:
                fernet.decrypt(sealed.encode())
            except InvalidToken:
                continue
            return ident
        return ""
