"""Encrypted cookie sessions: AES-256-GCM, so the client can neither read nor forge them.

The key is derived from ``SECRET_KEY`` with HKDF; cookies made under a key in
``SECRET_KEY_FALLBACKS`` still open, and are re-encrypted under the current key
the next time the session changes. The issue time sits inside the ciphertext,
so Flask's ``PERMANENT_SESSION_LIFETIME`` bounds a cookie's age as it does for
signed cookies.
"""

from __future__ import annotations

import base64
import binascii
import os
import struct
import time
import zlib
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask
from itsdangerous import BadPayload, BadSignature, SignatureExpired

from ..stores.base import Clock
from . import SignedCookieSessionInterface
from .base import CheckedSerializer

__all__ = ["AesGcmSerializer", "EncryptedCookieSessionInterface"]

_PREFIX = "v1."
_AAD = b"sessionkeeper encrypted session v1"
_HEADER = struct.Struct(">BQ")  # flags, issued-at seconds
_COMPRESSED = 1
_COMPRESS_FROM = 256  # bytes of JSON; below this zlib rarely pays for itself


def derive_key(secret: str | bytes) -> AESGCM:
    """Derive the AES-256-GCM key for one secret."""
    material = secret.encode() if isinstance(secret, str) else secret
    hkdf = HKDF(algorithm=SHA256(), length=32, salt=b"sessionkeeper.cookie", info=b"aes-256-gcm")
    return AESGCM(hkdf.derive(material))


class AesGcmSerializer:
    """Turn session data into an encrypted cookie value and back, under a list of keys.

    ``keys`` newest first: the first encrypts, every one decrypts.
    """

    def __init__(self, keys: list[AESGCM], tagger: Any, clock: Clock) -> None:
        self._keys, self._tagger, self._clock = keys, tagger, clock

    def dumps(self, data: Any) -> str:
        payload = self._tagger.dumps(data).encode()
        flags = 0
        if len(payload) >= _COMPRESS_FROM:
            compressed = zlib.compress(payload, 6)
            if len(compressed) < len(payload):
                payload, flags = compressed, _COMPRESSED
        nonce = os.urandom(12)
        plaintext = _HEADER.pack(flags, int(self._clock())) + payload
        sealed = nonce + self._keys[0].encrypt(nonce, plaintext, _AAD)
        return _PREFIX + base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()

    def loads(self, value: str, max_age: int | None = None) -> dict[str, Any]:
        if not value.startswith(_PREFIX):
            raise BadSignature("not an encrypted session cookie")
        body = value[len(_PREFIX) :]
        try:
            sealed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError) as exc:
            raise BadSignature("cookie is not base64") from exc
        nonce, ciphertext = sealed[:12], sealed[12:]
        for key in self._keys:
            try:
                plaintext = key.decrypt(nonce, ciphertext, _AAD)
                break
            except (InvalidTag, ValueError):
                continue
        else:
            raise BadSignature("cookie does not decrypt under any configured key")
        flags, issued = _HEADER.unpack_from(plaintext)
        if max_age is not None and self._clock() - issued > max_age:
            raise SignatureExpired("session cookie is older than PERMANENT_SESSION_LIFETIME")
        payload = plaintext[_HEADER.size :]
        try:
            if flags & _COMPRESSED:
                payload = zlib.decompress(payload)
            data = self._tagger.loads(payload.decode())
        except (zlib.error, ValueError) as exc:
            raise BadPayload("cookie payload cannot be decoded") from exc
        if not isinstance(data, dict):
            raise BadPayload("cookie payload is not a mapping")
        return data


class EncryptedCookieSessionInterface(SignedCookieSessionInterface):
    """Keep the session in an AES-256-GCM encrypted cookie."""

    def __init__(self, *, clock: Clock = time.time) -> None:
        self._clock = clock
        self._serializers: dict[tuple[object, ...], AesGcmSerializer] = {}

    def get_signing_serializer(self, app: Flask) -> CheckedSerializer | None:  # type: ignore[override]
        """The serializer for the app's current keys (derived once per set of keys)."""
        secrets = (app.secret_key, *reversed(app.config["SECRET_KEY_FALLBACKS"] or []))
        serializer = self._serializers.get(secrets)
        if serializer is None:
            keys = [derive_key(secret) for secret in secrets if secret]
            if not keys:
                return None
            serializer = AesGcmSerializer(keys, self.serializer, self._clock)
            self._serializers = {secrets: serializer}  # keep one: the keys in use now
        return CheckedSerializer(serializer, self, app)
