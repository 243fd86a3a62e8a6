"""Secrets kept at rest (webhook signing secrets, connection credentials), encrypted with rotating keys.

Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) under MultiFernet: the first key encrypts,
every key decrypts, so a new key is put first and the old one kept until `rotate` re-encrypted
what it sealed. Plumbing only: which secrets to seal is the services' business.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretBoxError(ValueError):
    """A key is malformed, or a sealed value was not sealed by any of the keys."""


def new_key() -> str:
    return Fernet.generate_key().decode()


class SecretBox:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise SecretBoxError("a secret box needs at least one key")
        try:
            self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        except (ValueError, TypeError):
            raise SecretBoxError("every key must be a Fernet key: 32 bytes, url-safe base64") from None

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise SecretBoxError("sealed with none of the configured keys (or altered)") from None

    def rotate(self, sealed: str) -> str:
        """The same secret sealed under the first (newest) key."""
        try:
            return self._fernet.rotate(sealed.encode()).decode()
        except InvalidToken:
            raise SecretBoxError("sealed with none of the configured keys (or altered)") from None
