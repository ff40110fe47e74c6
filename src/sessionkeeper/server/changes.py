"""What a request leaves to save, and what the save did: the patch, as plain data.

No web framework here: the session object builds a :class:`Pending`, the saver
writes it and answers an :class:`Outcome`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from ..stores.base import Version
from .keys import hash_id
from .record import SessionRecord, dumps

__all__ = ["PERMANENT", "CookieAction", "Outcome", "Pending", "Stored", "apply", "diff"]

#: What the response does with the session cookie.
CookieAction = Literal["set", "delete"] | None
#: The data key where Flask keeps ``session.permanent``.
PERMANENT: Final = "_permanent"


def diff(base: dict[str, Any], data: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """The keys ``data`` sets (new or changed) and deletes, relative to ``base``."""
    sets = {k: v for k, v in data.items() if k not in base or dumps(v) != dumps(base[k])}
    return sets, base.keys() - data.keys()


def apply(base: dict[str, Any], sets: dict[str, Any], deletes: set[str]) -> dict[str, Any]:
    """``base`` with a patch applied."""
    merged = {k: v for k, v in base.items() if k not in deletes}
    merged.update(sets)
    return merged


@dataclass(frozen=True, slots=True)
class Stored:
    """The record a request loaded: its id, key, version, bytes and contents."""

    sid: str
    key: str
    version: Version
    raw: bytes
    expires: float | None
    record: SessionRecord

    @property
    def id_hash(self) -> str:
        return hash_id(self.sid)


@dataclass(frozen=True, slots=True)
class Pending:
    """What a request leaves to save: its data (tagged) and where it came from."""

    stored: Stored | None
    data: dict[str, Any]
    created: float
    user: str | None
    discard: tuple[Stored, ...] = ()
    moved_from: Stored | None = None
    """The record ``regenerate`` left: merged from and deleted once the new one exists."""
    had_cookie: bool = False
    """The request carried a verified session cookie (one this app may delete)."""
    holds_lock: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the save did to the cookie, and the id a new cookie carries."""

    cookie: CookieAction
    sid: str | None = None
