"""Signed session ids: ``<id>.<HMAC-SHA256 of the id>``, checked before any store round trip.

Keys are derived once per secret (the current ``SECRET_KEY`` signs; it and
``SECRET_KEY_FALLBACKS`` verify), so a request pays for one HMAC, not a key
derivation, and the values verified lately are remembered, so a returning
cookie pays for none. A signer lives as long as its keys: new keys, new signer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from typing import Final

__all__ = ["IdSigner", "new_id"]

_PURPOSE = b"sessionkeeper.session-id"
#: Verified cookie values a signer remembers (about 150 bytes each) before it starts over.
VERIFIED_KEPT: Final = 4096


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
        self._verified: dict[str, str] = {}  # cookie value -> id, for values that verified

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
        known = self._verified.get(value)
        if known is not None:
            return known
        sid = self._check(value)
        if sid is not None:
            if len(self._verified) >= VERIFIED_KEPT:
                self._verified.clear()
            self._verified[value] = sid
        return sid

    def _check(self, value: str) -> str | None:
        sid, dot, signature = value.rpartition(".")
        if not dot or not sid or not value.isascii():
            return None
        raw_sid, raw_signature = sid.encode(), signature.encode()
        for key in self._keys:
            if hmac.compare_digest(self._mac(key, raw_sid), raw_signature):
                return sid
        return None
