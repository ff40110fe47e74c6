"""Find a page of keys for the Redis store: in its index on one server, by SCAN on a Cluster.

The index is a sorted set of Redis keys, all with score 0, so ZRANGE BYLEX returns them
in byte order, which for UTF-8 is code point order, the order of the Store contract.
:class:`KeyIndex` keeps it tidy: each create that adds a member draws 3 random members
in the same round trip, and the next create's script drops the dead among them.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

from .redis_scripts import INDEX_SUFFIX, NEW_MEMBER
from .redis_urls import translated
from .redis_wire import Wire, packed

__all__ = ["INDEX_BATCH", "KeyIndex", "ScanIndex", "prune_index", "scan_keyspace", "walk_index"]

#: Most index members one script call visits, so no call blocks the server for long.
INDEX_BATCH: Final = 1000
#: Reads (start, end, count) index members and prunes them: (live, last visited, visited).
ScanIndex = Callable[[bytes, bytes, int], Any]

_GLOB_SPECIAL: Final = re.compile(rb"([\\*?\[\]])")
_SCAN_COUNT: Final = 1000


def _lex_range(prefix: bytes, after: bytes | None) -> tuple[bytes, bytes]:
    """Return ZRANGE BYLEX bounds of the keys starting with ``prefix`` and above ``after``."""
    start = b"[" + prefix if after is None or after < prefix else b"(" + after
    # UTF-8 never holds 0xFF, so the last byte can always be raised by one.
    end = b"(" + prefix[:-1] + bytes([prefix[-1] + 1]) if prefix else b"+"
    return start, end


def walk_index(
    scan_index: ScanIndex, key_prefix: str, prefix: str, after: str | None, wanted: int
) -> list[str]:
    """Return up to ``wanted`` live keys starting with ``prefix`` above ``after``, in order.

    The script drops the dead members it visits. Each call visits ``wanted`` members at
    first, then twice as many as the call before (up to :data:`INDEX_BATCH`), so a clean
    index costs one round trip and a run of dead members only a few more.
    """
    above = None if after is None else (key_prefix + after).encode()
    start, end = _lex_range((key_prefix + prefix).encode(), above)
    found: list[bytes] = []
    batch = 0
    while len(found) < wanted:
        batch = min(INDEX_BATCH, max(wanted - len(found), 2 * batch))
        live, last, visited = scan_index(start, end, batch)
        found += live
        if visited < batch:
            break
        start = b"(" + last
    skip = len(key_prefix.encode())
    return [member[skip:].decode() for member in found[:wanted]]


def prune_index(scan_index: ScanIndex) -> None:
    """Visit the whole index in batches, dropping the members whose records are gone."""
    start = b"-"
    while True:
        _, last, visited = scan_index(start, b"+", INDEX_BATCH)
        if visited < INDEX_BATCH:
            return
        start = b"(" + last


def _smallest(keys: Iterable[str], n: int) -> list[str]:
    """Return the ``n`` smallest distinct keys, in order, holding O(n) of them at a time."""
    best: set[str] = set()
    for key in keys:
        best.add(key)
        if len(best) > 4 * n:
            best = set(heapq.nsmallest(n, best))
    return heapq.nsmallest(n, best)


def scan_keyspace(
    wire: Wire, key_prefix: str, prefix: str, after: str | None, wanted: int
) -> list[str]:
    """Return up to ``wanted`` keys starting with ``prefix`` above ``after``, by SCAN.

    SCAN (on every primary of a Cluster) visits the whole keyspace in small steps; MATCH
    only filters what it visits, so the cost is proportional to the database.
    """
    full = key_prefix + prefix
    pattern = _GLOB_SPECIAL.sub(rb"\\\1", full.encode()) + b"*"

    def matching() -> Iterator[str]:
        for raw in wire.scan_iter(match=pattern, count=_SCAN_COUNT, _type="hash"):
            try:
                key = raw.decode()
            except UnicodeDecodeError:  # not a key this store wrote
                continue
            if key.startswith(full) and (after is None or key[len(key_prefix) :] > after):
                yield key[len(key_prefix) :]

    with translated():
        return _smallest(matching(), wanted)


class KeyIndex:
    """The index of a store's keys on one server, and the sample its next create checks."""

    def __init__(self, wire: Wire, key_prefix: str) -> None:
        self.wire, self.key_prefix = wire, key_prefix
        self.key = key_prefix.encode() + INDEX_SUFFIX
        self.draw = (packed(b"ZRANDMEMBER", self.key, 3),)  # sent after a write
        self.sample: list[bytes] = []  # members the next create checks

    def take_sample(self) -> list[bytes]:
        """Hand the pending sample to a write (threads may race: a sample checked twice or
        lost costs nothing)."""
        sample, self.sample = self.sample, []
        return sample

    def settle(self, done: int, sample: list[bytes], drawn: list[Any]) -> None:
        """Keep the sample a write drew if it added a member; put back one it left unchecked."""
        if not done:
            self.sample = self.sample or sample  # the script stopped before checking them
        elif done == NEW_MEMBER and drawn and isinstance(drawn[0], list):
            self.sample = drawn[0]

    def page(self, start: bytes, end: bytes, count: int) -> Any:
        """A :data:`ScanIndex`: read members with ZRANGE, then prune them with a script."""
        members = self.wire.command(b"ZRANGE", self.key, start, end, b"BYLEX", b"LIMIT", 0, count)
        if not members:
            return [], b"", 0
        return self.wire.script("prune", [self.key, *members], ())[0], members[-1], len(members)

    def scan(self, prefix: str, after: str | None, wanted: int) -> list[str]:
        """Return up to ``wanted`` live keys starting with ``prefix`` above ``after``."""
        return walk_index(self.page, self.key_prefix, prefix, after, wanted)

    def prune(self) -> None:
        """Drop every member whose record is gone."""
        prune_index(self.page)
