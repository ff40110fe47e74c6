"""The stored record of a session: the only code that encodes or decodes one.

A record is compact JSON: ``{"c": <created, epoch seconds>, "d": <data>, "u": <user>}``,
``u`` only when the session is bound to a user. The data is a tagged JSON tree
(Flask's tagged JSON, so tuples, bytes, datetimes and markup survive); the
session layer tags and untags it, so this module needs no web framework.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import CorruptRecord

__all__ = ["SessionRecord", "Tagger", "decode", "dumps", "encode", "index_entry", "untag"]


class Tagger(Protocol):
    """Turns values into JSON-safe tagged trees and back (Flask's ``TaggedJSONSerializer``)."""

    def tag(self, value: Any) -> Any: ...

    def untag(self, value: dict[str, Any]) -> Any: ...


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """What a record holds: creation time, tagged data, and the bound user."""

    created: float
    data: dict[str, Any]
    user: str | None = None


def dumps(value: Any) -> str:
    """Compact JSON, as records are written."""
    return json.dumps(value, separators=(",", ":"))


def encode(record: SessionRecord) -> bytes:
    """The bytes stored for ``record``."""
    tree: dict[str, Any] = {"c": record.created, "d": record.data}
    if record.user is not None:
        tree["u"] = record.user
    return dumps(tree).encode()


def decode(raw: bytes) -> SessionRecord:
    """Read a stored record; raise :class:`CorruptRecord` for anything else."""
    try:
        tree = json.loads(raw.decode())  # a str: json need not guess the encoding
        created, data, user = float(tree["c"]), tree["d"], tree.get("u")
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptRecord(f"undecodable session record: {exc}") from exc
    if not isinstance(data, dict):
        raise CorruptRecord("undecodable session record: its data is not an object")
    return SessionRecord(created, data, user if isinstance(user, str) else None)


def untag(tagger: Tagger, value: Any) -> Any:
    """Rebuild Python values from a tagged tree, leaving ``value`` itself untouched."""
    if isinstance(value, dict):
        return tagger.untag({k: untag(tagger, v) for k, v in value.items()})
    if isinstance(value, list):
        return [untag(tagger, item) for item in value]
    return value


def index_entry(created: float) -> bytes:
    """The value of a user-index entry: when its session was created."""
    return dumps({"created": created}).encode()
