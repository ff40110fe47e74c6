"""Signed session ids: ``<id>.<HMAC-SHA256 of the id>``, checked before any store round trip.

Keys are derived once per secret (the current ``SECRET_KEY`` signs; it and
``SECRET_KEY_FALLBACKS`` verify), so a request pays for one HMAC, not a key
derivation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

__all__ = ["IdSigner", "new_id"]

_PURPOSE = b"sessionkeeper.session-id"


def new_id() -> str:
    """A new session id: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def _derive(secret: str | bytes) -> hmac.HMAC:
    material = secret.encode() if isinstance(secret, str) else secret
    key = hmac.new(material, _PURPOSE, hashlib.sha256).digest()
    return hmac.new(key, digestmod=hashlib.sha256)


class IdSigner:
    """Sign with the newest secret; accept a signature made with any of them."""

    def __init__(self, secrets: Sequence[str | bytes]) -> None:
        """``secrets`` oldest first, the current one last (Flask's order)."""
        if not secrets:
            raise ValueError("at least one secret is needed")
        self._keys = [_derive(secret) for secret in reversed(secrets)]

    @staticmethod
    def _mac(key: hmac.HMAC, sid: bytes) -> bytes:
        mac = key.copy()
        mac.update(sid)
        return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=")

    def sign(self, sid: str) -> str:
        """The cookie value for ``sid``."""
        return f"{sid}.{self._mac(self._keys[0], sid.encode()).decode()}"

    def unsign(self, value: str) -> str | None:
        """The id inside a cookie value, or None when no key made its signature."""
        sid, dot, signature = value.rpartition(".")
        if not dot or not sid or not value.isascii():
            return None
        raw_sid, raw_signature = sid.encode(), signature.encode()
        for key in self._keys:
            if hmac.compare_digest(self._mac(key, raw_sid), raw_signature):
                return sid
        return None
