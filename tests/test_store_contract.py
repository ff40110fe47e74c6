"""The Store contract, run against every kind of store (see ``STORE_BUILDERS`` in conftest)."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from conftest import FakeClock
from sessionkeeper.errors import Conflict
from sessionkeeper.stores import ABSENT, Store
from sessionkeeper.stores.memory import MemoryStore

needs_clock = pytest.mark.needs_clock
needs_scan = pytest.mark.needs_scan


def value_of(store: Store, key: str) -> bytes | None:
    record = store.get(key)
    return None if record is None else record.value


def all_keys(store: Store, prefix: str = "", limit: int = 1000) -> list[str]:
    keys, cursor = store.scan(prefix, limit=limit)
    assert cursor is None
    return keys


# get / set --------------------------------------------------------------------------------


def test_get_missing_key_returns_none(store: Store) -> None:
    assert store.get("missing") is None


def test_set_then_get_round_trips_value_and_version(store: Store) -> None:
    version = store.set("k", b"value")
    record = store.get("k")
    assert record is not None
    assert (record.value, record.version, record.expires) == (b"value", version, None)
    assert isinstance(version, str)


@pytest.mark.parametrize(
    "value",
    [bytes(range(256)), b"", b"\x00", b"\xff\xfe" * 1000, os.urandom(10_000)],
    ids=["all-bytes", "empty", "nul", "utf16-bom", "random"],
)
def test_binary_values_round_trip(store: Store, value: bytes) -> None:
    store.set("bin", value)
    assert value_of(store, "bin") == value


def test_overwrite_changes_value_and_version(store: Store) -> None:
    first = store.set("k", b"one")
    second = store.set("k", b"two")
    assert second != first
    record = store.get("k")
    assert record is not None
    assert (record.value, record.version) == (b"two", second)


def test_versions_differ_on_every_write(store: Store) -> None:
    versions = [store.set(f"k{i % 3}", b"same") for i in range(30)]
    assert len(set(versions)) == len(versions)


def test_recreated_key_never_repeats_a_version(store: Store) -> None:
    old = store.set("k", b"v")
    assert store.delete("k")
    new = store.set("k", b"v")
    assert new != old
    with pytest.raises(Conflict):
        store.set("k", b"stale writer", if_version=old)
    assert value_of(store, "k") == b"v"


# compare-and-set --------------------------------------------------------------------------


def test_absent_writes_a_missing_key(store: Store) -> None:
    version = store.set("k", b"new", if_version=ABSENT)
    record = store.get("k")
    assert record is not None
    assert (record.value, record.version) == (b"new", version)


@pytest.mark.parametrize("ttl", [None, 100])
def test_absent_conflicts_on_a_live_key(store: Store, ttl: float | None) -> None:
    store.set("k", b"first", ttl=ttl)
    with pytest.raises(Conflict) as caught:
        store.set("k", b"second", if_version=ABSENT)
    assert caught.value.key == "k"
    assert value_of(store, "k") == b"first"


@needs_clock
def test_absent_writes_over_an_expired_key(store: Store, clock: FakeClock) -> None:
    old = store.set("k", b"old", ttl=10)
    clock.advance(10)
    new = store.set("k", b"new", if_version=ABSENT)
    assert new != old
    assert value_of(store, "k") == b"new"


def test_if_version_match_writes(store: Store) -> None:
    version = store.set("k", b"one")
    new = store.set("k", b"two", if_version=version)
    assert new != version
    record = store.get("k")
    assert record is not None
    assert (record.value, record.version) == (b"two", new)


def test_if_version_mismatch_conflicts_and_keeps_the_value(store: Store) -> None:
    old = store.set("k", b"one")
    store.set("k", b"two")
    with pytest.raises(Conflict):
        store.set("k", b"three", if_version=old)
    assert value_of(store, "k") == b"two"


def test_if_version_on_a_missing_key_conflicts(store: Store) -> None:
    version = store.set("other", b"x")
    with pytest.raises(Conflict):
        store.set("k", b"v", if_version=version)
    assert store.get("k") is None


@pytest.mark.parametrize("bogus", ["", "not a version", "-1", "0x1", "ffffffffffffffffffff"])
def test_unparsable_version_is_a_conflict(store: Store, bogus: str) -> None:
    store.set("k", b"v")
    with pytest.raises(Conflict):
        store.set("k", b"w", if_version=bogus)
    with pytest.raises(Conflict):
        store.delete("k", if_version=bogus)
    assert value_of(store, "k") == b"v"


@needs_clock
def test_if_version_of_an_expired_key_conflicts(store: Store, clock: FakeClock) -> None:
    version = store.set("k", b"v", ttl=5)
    clock.advance(5)
    with pytest.raises(Conflict):
        store.set("k", b"w", if_version=version)
    assert store.get("k") is None


def test_concurrent_compare_and_set_loses_no_increment(store: Store) -> None:
    threads, per_thread = 8, 25
    store.set("counter", b"0")
    start = threading.Barrier(threads)

    def increment() -> int:
        start.wait()
        conflicts = 0
        for _ in range(per_thread):
            while True:
                record = store.get("counter")
                assert record is not None
                try:
                    store.set("counter", b"%d" % (int(record.value) + 1), if_version=record.version)
                    break
                except Conflict:
                    conflicts += 1
        return conflicts

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(increment) for _ in range(threads)]
        for future in futures:
            future.result()
    assert value_of(store, "counter") == b"%d" % (threads * per_thread)


# delete -----------------------------------------------------------------------------------


def test_delete_removes_and_reports_existence(store: Store) -> None:
    store.set("k", b"v")
    assert store.delete("k") is True
    assert store.get("k") is None
    assert store.delete("k") is False


def test_delete_missing_key_returns_false(store: Store) -> None:
    assert store.delete("never") is False


def test_delete_if_version_match(store: Store) -> None:
    version = store.set("k", b"v")
    assert store.delete("k", if_version=version) is True
    assert store.get("k") is None


def test_delete_after_a_delete_at_a_version_reports_the_key_gone(store: Store) -> None:
    version = store.set("k", b"v")
    store.delete("k", if_version=version)
    assert store.delete("k") is False


def test_delete_if_version_mismatch_conflicts_and_keeps_the_key(store: Store) -> None:
    old = store.set("k", b"one")
    store.set("k", b"two")
    with pytest.raises(Conflict):
        store.delete("k", if_version=old)
    assert value_of(store, "k") == b"two"


def test_delete_if_version_of_a_missing_key_conflicts(store: Store) -> None:
    version = store.set("k", b"v")
    store.delete("k")
    with pytest.raises(Conflict):
        store.delete("k", if_version=version)


@needs_clock
def test_delete_treats_an_expired_key_as_absent(store: Store, clock: FakeClock) -> None:
    first = store.set("a", b"v", ttl=10)
    store.set("b", b"v", ttl=10)
    clock.advance(10)
    with pytest.raises(Conflict):
        store.delete("a", if_version=first)
    assert store.delete("b") is False
    assert store.get("b") is None


# touch ------------------------------------------------------------------------------------


@needs_clock
def test_touch_sets_a_new_expiry_without_rewriting(store: Store, clock: FakeClock) -> None:
    version = store.set("k", b"v", ttl=10)
    assert store.touch("k", 100) is True
    record = store.get("k")
    assert record is not None
    assert (record.value, record.version) == (b"v", version)
    assert record.expires == pytest.approx(clock() + 100)


def test_touch_missing_key_returns_false_and_creates_nothing(store: Store) -> None:
    assert store.touch("never", 10) is False
    assert store.get("never") is None


@needs_clock
def test_touch_expired_key_returns_false(store: Store, clock: FakeClock) -> None:
    store.set("k", b"v", ttl=10)
    clock.advance(10)
    assert store.touch("k", 100) is False
    assert store.get("k") is None
    store.set("k", b"new", if_version=ABSENT)


@needs_clock
def test_touch_extends_life(store: Store, clock: FakeClock) -> None:
    store.set("k", b"v", ttl=10)
    clock.advance(8)
    assert store.touch("k", 10)
    clock.advance(8)
    assert value_of(store, "k") == b"v"
    clock.advance(2)
    assert store.get("k") is None


@needs_clock
def test_touch_with_no_ttl_removes_the_expiry(store: Store, clock: FakeClock) -> None:
    store.set("k", b"v", ttl=10)
    assert store.touch("k", None)
    clock.advance(1_000_000)
    record = store.get("k")
    assert record is not None
    assert record.expires is None


# expiry -----------------------------------------------------------------------------------


@needs_clock
def test_ttl_sets_an_absolute_expiry(store: Store, clock: FakeClock) -> None:
    store.set("k", b"v", ttl=30)
    record = store.get("k")
    assert record is not None
    assert record.expires == pytest.approx(clock() + 30)


@needs_scan
@needs_clock
def test_key_expires_exactly_at_its_ttl(store: Store, clock: FakeClock) -> None:
    store.set("k", b"v", ttl=10)
    clock.advance(9.5)
    assert value_of(store, "k") == b"v"
    clock.advance(0.5)
    assert store.get("k") is None
    assert all_keys(store) == []


@needs_clock
def test_every_write_sets_the_expiry_anew(store: Store, clock: FakeClock) -> None:
    version = store.set("k", b"v", ttl=10)
    store.set("k", b"w", if_version=version)
    clock.advance(100)
    record = store.get("k")
    assert record is not None
    assert (record.value, record.expires) == (b"w", None)


@pytest.mark.parametrize("ttl", [0, -1, -0.5])
def test_invalid_ttl_is_rejected(store: Store, ttl: float) -> None:
    with pytest.raises(ValueError):
        store.set("k", b"v", ttl=ttl)
    assert store.get("k") is None
    store.set("k", b"v")
    with pytest.raises(ValueError):
        store.touch("k", ttl)
    record = store.get("k")
    assert record is not None
    assert record.expires is None


# scan -------------------------------------------------------------------------------------

ODD_KEYS = [
    "a",
    "a/b",
    "a/b/c",
    "a-b",
    "a0",
    "ab",
    "B",
    "b",
    "e\u0301",
    "\u00e9",
    "\u65e5\u672c",
    "\uffef",
    "\U0001f600",
    "z",
]


@needs_scan
def test_scan_empty_store(store: Store) -> None:
    assert store.scan() == ([], None)


@needs_scan
def test_scan_orders_by_code_point(store: Store) -> None:
    for key in reversed(ODD_KEYS):
        store.set(key, b"")
    assert all_keys(store) == sorted(ODD_KEYS)


@needs_scan
@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("a/", ["a/b", "a/b/c"]),
        ("a", ["a", "a-b", "a/b", "a/b/c", "a0", "ab"]),
        ("a/b", ["a/b", "a/b/c"]),
        ("\u00e9", ["\u00e9"]),
        ("\U0001f601", []),
        ("nothing", []),
        ("", sorted(ODD_KEYS)),
    ],
)
def test_scan_prefix(store: Store, prefix: str, expected: list[str]) -> None:
    for key in ODD_KEYS:
        store.set(key, b"")
    assert all_keys(store, prefix) == expected


@needs_scan
def test_scan_after_cursor(store: Store) -> None:
    for key in ODD_KEYS:
        store.set(key, b"")
    assert store.scan("a", after="a/b") == (["a/b/c", "a0", "ab"], None)
    assert store.scan("a", after="a/") == (["a/b", "a/b/c", "a0", "ab"], None)  # not a key
    assert store.scan("a/", after="") == (["a/b", "a/b/c"], None)  # before the prefix
    assert store.scan("a", after="ab") == ([], None)
    assert store.scan("a", after="zzz") == ([], None)
    assert store.scan(after="\uffef") == (["\U0001f600"], None)


@needs_scan
def test_scan_paginates_by_walking_cursors(store: Store) -> None:
    keys = [f"page/{i:03d}" for i in range(250)]
    for key in [*keys, "page", "page0", "pagf"]:
        store.set(key, b"")
    seen: list[str] = []
    pages: list[int] = []
    cursor: str | None = None
    while True:
        page, cursor = store.scan("page/", after=cursor, limit=100)
        seen += page
        pages.append(len(page))
        if cursor is None:
            break
        assert cursor == page[-1]
    assert pages == [100, 100, 50]
    assert seen == keys
    first, cursor = store.scan("page/")
    assert (first, cursor) == (keys[:100], keys[99])


@needs_scan
def test_scan_gives_no_cursor_when_the_page_ends_the_range(store: Store) -> None:
    for i in range(4):
        store.set(f"k{i}", b"")
    assert store.scan("k", limit=4) == (["k0", "k1", "k2", "k3"], None)
    assert store.scan("k", limit=2) == (["k0", "k1"], "k1")
    assert store.scan("k", after="k1", limit=2) == (["k2", "k3"], None)


@needs_scan
@needs_clock
def test_scan_skips_expired_keys(store: Store, clock: FakeClock) -> None:
    for i in range(10):
        store.set(f"k{i}", b"", ttl=5 if i % 2 else None)
    clock.advance(5)
    assert store.scan("k", limit=5) == (["k0", "k2", "k4", "k6", "k8"], None)
    assert store.scan("k", limit=2) == (["k0", "k2"], "k2")


@pytest.mark.parametrize("limit", [0, -1])
def test_scan_limit_below_one_is_rejected(store: Store, limit: int) -> None:
    with pytest.raises(ValueError):
        store.scan(limit=limit)


# clear_expired and close ------------------------------------------------------------------


@needs_scan
@needs_clock
def test_clear_expired_counts_what_it_removed(store: Store, clock: FakeClock) -> None:
    for i in range(3):
        store.set(f"short{i}", b"", ttl=10)
    store.set("long", b"", ttl=100)
    store.set("forever", b"")
    clock.advance(50)
    assert store.clear_expired() == (0 if store.expires_by_itself else 3)
    assert store.clear_expired() == 0
    assert all_keys(store) == ["forever", "long"]


@needs_scan
def test_clear_expired_keeps_live_keys(store: Store) -> None:
    store.set("long", b"", ttl=3600)
    store.set("forever", b"")
    assert store.clear_expired() == 0
    assert all_keys(store) == ["forever", "long"]


def test_close_twice_is_safe(store: Store) -> None:
    store.set("k", b"v")
    store.close()
    store.close()


def test_a_bounded_memory_store_drops_expired_records_then_the_oldest(clock: Any) -> None:
    store = MemoryStore(clock=clock, max_entries=3)
    store.set("short", b"", ttl=10)
    store.set("a", b"")
    store.set("b", b"")
    clock.advance(11)
    store.set("c", b"")  # "short" expired: it goes, nothing live is evicted
    assert store.scan() == (["a", "b", "c"], None)
    store.set("a", b"again")  # written again: now the newest
    store.set("d", b"")  # full: the oldest written ("b") is evicted
    assert store.scan() == (["a", "c", "d"], None)
    with pytest.raises(ValueError, match="max_entries"):
        MemoryStore(max_entries=0)
