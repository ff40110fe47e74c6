"""What the session inspector shows: the cookie both ways, its payload, the stored record.

Only the visitor's own session is ever read: the ``Cookie`` header of this
request, the ``Set-Cookie`` headers of this response, and the
:class:`sessionkeeper.Inspection` the library left for this request. The
session cookie is HttpOnly, so page scripts cannot read it; the panel keeps it
that way by never printing a cookie's secret part (the signature of a signed
cookie, all but the start of an id or of an encrypted value).
"""

from __future__ import annotations

import base64
import binascii
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

from werkzeug.http import parse_cookie

from sessionkeeper import Inspection

__all__ = ["Mode", "Panel", "SentCookie", "decode_signed", "describe", "shown_value"]

SHOWN_PREFIX: Final = 8
MAX_PAYLOAD: Final = 4096

Kind = Literal["signed", "encrypted", "server"]


@dataclass(frozen=True, slots=True)
class Mode:
    """How a lab keeps its sessions, and the name of its session cookie."""

    kind: Kind
    cookie_name: str
    store: str | None = None
    """The server store's class name, e.g. ``SqliteStore``."""


@dataclass(frozen=True, slots=True)
class SentCookie:
    """A ``Set-Cookie`` of the session cookie: its value and attributes."""

    value: str
    shown: str
    """The value as the page may print it (see :func:`shown_value`)."""
    attributes: str
    deleted: bool


@dataclass(frozen=True, slots=True)
class Panel:
    """Everything the panel's template prints, each string escaped there."""

    mode: Mode
    request_cookie: str | None
    response_cookie: SentCookie | None
    why_none: str | None
    payload: str | None
    inspection: Inspection | None
    idle_left: str | None
    absolute_left: str | None


def decode_signed(value: str) -> str | None:
    """Read a signed cookie's payload without the key: base64, zlib-inflated after a ".".

    Signing makes the cookie unforgeable, not secret: anyone holding it can read this.
    """
    compressed = value.startswith(".")
    payload = value.removeprefix(".").split(".", 1)[0]
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        if compressed:
            inflater = zlib.decompressobj()
            raw = inflater.decompress(raw, MAX_PAYLOAD)
            if inflater.unconsumed_tail:
                return None
        return raw.decode("utf-8")
    except (binascii.Error, zlib.error, UnicodeDecodeError, ValueError):
        return None


def shown_value(kind: Kind, value: str) -> str:
    """The part of a cookie value the page may print: never what would let anyone replay it."""
    if kind == "signed" and value.count(".") >= 2:
        data, stamp, _ = value.rsplit(".", 2)
        return f"{data}.{stamp}.[signature hidden]"
    if len(value) <= SHOWN_PREFIX:
        return value
    return f"{value[:SHOWN_PREFIX]}…[{len(value) - SHOWN_PREFIX} more characters hidden]"


def _sent(mode: Mode, headers: list[tuple[str, str]]) -> SentCookie | None:
    found = None
    for key, header in headers:
        if key.lower() != "set-cookie":
            continue
        pair, _, attributes = header.partition(";")
        cookie, eq, value = pair.partition("=")
        if eq and cookie.strip() == mode.cookie_name:
            lowered = attributes.lower()
            deleted = "max-age=0" in lowered or "expires=thu, 01 jan 1970" in lowered
            value = value.strip().strip('"')
            shown = "" if deleted else shown_value(mode.kind, value)
            found = SentCookie(value, shown, attributes.strip(), deleted)
    return found


def _left(when: float | None, now: float) -> str | None:
    if when is None:
        return None
    seconds = max(0, int(when - now))
    hours, rest = divmod(seconds, 3600)
    span = f"{hours} h {rest // 60} min" if hours else f"{rest // 60} min {rest % 60} s"
    return f"{span} (at {datetime.fromtimestamp(when, UTC):%H:%M:%S} UTC)"


def _why_none(mode: Mode, sent: str | None, found: Inspection | None) -> str:
    if mode.kind != "server":
        if sent is None:
            return "the session is empty: there is nothing to keep, so no cookie"
        return "nothing changed, so the browser keeps the cookie it has"
    operations = found.operations if found is not None else ()
    if not operations:
        if sent is None:
            return "no session: nothing to remember, so nothing stored and no cookie"
        return "this page did not use the session"
    if "set session" in operations:
        return "the data changed on the server; the cookie holds only the id, which stays the same"
    if "touch session" in operations:
        return "the session is unchanged: the server touched its expiry"
    if found is not None and found.id_hash is None:
        return "the cookie names no live session (expired or unknown), and nothing was stored"
    return "nothing changed"


def describe(
    mode: Mode,
    environ_cookie: str,
    headers: list[tuple[str, str]],
    found: Inspection | None,
    *,
    now: float | None = None,
) -> Panel:
    """Gather the panel of one request from its ``Cookie`` header and its response headers."""
    sent = parse_cookie(environ_cookie).get(mode.cookie_name) if environ_cookie else None
    answered = _sent(mode, headers)
    why = None if answered is not None else _why_none(mode, sent, found)
    payload = None
    if mode.kind == "signed":
        current = answered.value if answered is not None and not answered.deleted else sent
        payload = decode_signed(current) if current else None
    when = time.time() if now is None else now
    server = found if mode.kind == "server" else None
    return Panel(
        mode=mode,
        request_cookie=None if sent is None else shown_value(mode.kind, sent),
        response_cookie=answered,
        why_none=why,
        payload=payload,
        inspection=server,
        idle_left=_left(server.idle_expires, when) if server else None,
        absolute_left=_left(server.absolute_expires, when) if server else None,
    )
