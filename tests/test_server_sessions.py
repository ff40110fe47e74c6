"""Server-side sessions through Flask's test client: ids, laziness, writes, lifecycle, timeouts."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import uuid
from collections import Counter
from typing import Any

import pytest
from flask import Flask, jsonify, session
from flask.testing import FlaskClient
from markupsafe import Markup

from sessionkeeper import ServerSession, SessionKeeper, StoreUnavailable
from sessionkeeper.stores.base import Absent, Record, Version
from sessionkeeper.stores.memory import MemoryStore


class CountingStore(MemoryStore):
    """A real MemoryStore that counts the calls made to it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: Counter[str] = Counter()
        self.down = False

    def _call(self, name: str) -> None:
        if self.down:
            raise StoreUnavailable("store is down")
        self.calls[name] += 1

    def get(self, key: str) -> Record | None:
        self._call("get")
        return super().get(key)

    def set(
        self,
        key: str,
        value: bytes,
        *,
        ttl: float | None = None,
        if_version: Version | Absent | None = None,
    ) -> Version:
        self._call("set")
        return super().set(key, value, ttl=ttl, if_version=if_version)

    def delete(self, key: str, *, if_version: Version | None = None) -> bool:
        self._call("delete")
        return super().delete(key, if_version=if_version)

    def touch(self, key: str, ttl: float | None) -> bool:
        self._call("touch")
        return super().touch(key, ttl)


@pytest.fixture
def store(clock: Any) -> CountingStore:
    return CountingStore(clock=clock)


def build_app(store: MemoryStore, clock: Any, **config: Any) -> Flask:
    app = Flask(__name__)
    app.config.update({"SECRET_KEY": "test-secret", "SESSION_STORE": store, **config})
    SessionKeeper(app, clock=clock)

    @app.get("/ping")
    def ping() -> str:
        return "pong"

    @app.get("/read")
    def read() -> Any:
        return jsonify(dict(session))

    @app.get("/get/<key>")
    def get(key: str) -> Any:
        return jsonify(session.get(key))

    @app.get("/set/<key>/<value>")
    def set_(key: str, value: str) -> str:
        session[key] = value
        return "ok"

    @app.get("/append/<key>/<value>")
    def append(key: str, value: str) -> str:
        session.setdefault(key, []).append(value)
        return "ok"

    @app.get("/delete/<key>")
    def delete(key: str) -> str:
        session.pop(key, None)
        return "ok"

    @app.get("/regenerate")
    def regenerate() -> str:
        assert isinstance(session, ServerSession)
        session.regenerate()
        return "ok"

    @app.get("/destroy")
    def destroy() -> str:
        assert isinstance(session, ServerSession)
        session.destroy()
        return "ok"

    return app


@pytest.fixture
def app(store: CountingStore, clock: Any) -> Flask:
    return build_app(store, clock)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def cookie_of(client: FlaskClient) -> str | None:
    cookie = client.get_cookie("session")
    return cookie.value if cookie else None


def stored(store: MemoryStore) -> dict[str, dict[str, Any]]:
    keys, _ = store.scan("", limit=1000)
    result = {}
    for key in keys:
        record = store.get(key)
        assert record is not None
        result[key] = json.loads(record.value)
    return result


def test_cookie_carries_only_a_signed_256_bit_id_and_store_key_is_its_hash(
    client: FlaskClient, store: CountingStore
) -> None:
    client.get("/set/name/alice")
    value = cookie_of(client)
    assert value is not None and "alice" not in value
    sid, _, signature = value.rpartition(".")
    assert len(sid) >= 43 and signature  # 32 random bytes in url-safe base64
    records = stored(store)
    assert list(records) == ["session:" + hashlib.sha256(sid.encode()).hexdigest()]
    dump = json.dumps(records)
    assert sid not in dump and value not in dump


def test_ids_are_unique_per_session(app: Flask) -> None:
    ids = set()
    for _ in range(20):
        client = app.test_client()
        client.get("/set/a/1")
        ids.add(cookie_of(client))
    assert len(ids) == 20


def test_request_that_never_touches_the_session_costs_nothing(
    client: FlaskClient, store: CountingStore
) -> None:
    client.get("/set/a/1")
    store.calls.clear()
    response = client.get("/ping")
    assert store.calls == Counter()
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.vary


def test_reading_costs_one_get_and_no_write_or_cookie(
    client: FlaskClient, store: CountingStore
) -> None:
    client.get("/set/a/1")
    store.calls.clear()
    response = client.get("/get/a")
    assert response.json == "1"
    assert store.calls == Counter(get=1)
    assert "Set-Cookie" not in response.headers
    assert "Cookie" in response.vary


def test_anonymous_read_creates_no_session(client: FlaskClient, store: CountingStore) -> None:
    response = client.get("/get/a")
    assert response.json is None
    assert "Set-Cookie" not in response.headers
    assert store.calls["set"] == 0
    assert stored(store) == {}


def test_unchanged_write_writes_nothing(client: FlaskClient, store: CountingStore) -> None:
    client.get("/set/a/1")
    store.calls.clear()
    client.get("/set/a/1")
    assert store.calls["set"] == 0


def test_change_to_a_plain_value_behind_the_session_api_is_saved(
    app: Flask, client: FlaskClient, store: CountingStore
) -> None:
    """A read of plain values is proven unchanged by a copy, not by the ``modified`` flag."""

    @app.get("/behind/<value>")
    def behind(value: str) -> str:
        assert isinstance(session, ServerSession)
        session.data["a"] = value  # bypasses __setitem__: modified stays False
        return "ok"

    client.get("/set/a/1")
    store.calls.clear()
    client.get("/get/a")
    assert store.calls["set"] == 0
    client.get("/behind/2")
    assert store.calls["set"] == 1
    assert client.get("/read").json == {"a": "2"}


def test_nested_change_is_saved(client: FlaskClient) -> None:
    client.get("/append/cart/apple")
    client.get("/append/cart/pear")
    assert client.get("/read").json == {"cart": ["apple", "pear"]}


def test_cookie_attributes_same_on_set_and_delete(client: FlaskClient) -> None:
    set_header = client.get("/set/a/1").headers["Set-Cookie"]
    delete_header = client.get("/destroy").headers["Set-Cookie"]
    for header in (set_header, delete_header):
        assert "HttpOnly" in header
        assert "SameSite=Lax" in header
        assert "Path=/" in header
        assert "Secure" not in header
    assert "Expires=Thu, 01 Jan 1970" in delete_header


def test_secure_cookie_over_https(app: Flask) -> None:
    client = app.test_client()
    header = client.get("/set/a/1", base_url="https://localhost").headers["Set-Cookie"]
    assert "Secure" in header


def test_regenerate_keeps_data_under_new_id_and_kills_the_old(
    client: FlaskClient, store: CountingStore
) -> None:
    client.get("/set/user/alice")
    old = cookie_of(client)
    client.get("/regenerate")
    new = cookie_of(client)
    assert new and new != old
    assert client.get("/read").json == {"user": "alice"}
    assert len(stored(store)) == 1
    replay = client.application.test_client()
    replay.set_cookie("session", old or "")
    assert replay.get("/read").json == {}


def test_destroy_removes_record_and_cookie_and_replay_is_empty(
    client: FlaskClient, store: CountingStore
) -> None:
    client.get("/set/user/alice")
    old = cookie_of(client)
    response = client.get("/destroy")
    assert "session=;" in response.headers["Set-Cookie"]
    assert stored(store) == {}
    replay = client.application.test_client()
    replay.set_cookie("session", old or "")
    assert replay.get("/read").json == {}


def test_emptying_the_session_deletes_the_cookie(client: FlaskClient, store: CountingStore) -> None:
    client.get("/set/a/1")
    old = cookie_of(client)
    response = client.get("/delete/a")
    assert "session=;" in response.headers["Set-Cookie"]
    assert [record["d"] for record in stored(store).values()] == [{}]  # expires by itself
    replay = client.application.test_client()
    replay.set_cookie("session", old or "")
    assert replay.get("/read").json == {}


def test_forged_id_never_reaches_the_store(
    client: FlaskClient, store: CountingStore, caplog: pytest.LogCaptureFixture
) -> None:
    client.get("/set/a/1")
    value = cookie_of(client) or ""
    sid, _, signature = value.rpartition(".")
    store.calls.clear()
    for forged in (sid + ".AAAA", "x" * 43 + "." + signature, "garbage", sid):
        client.set_cookie("session", forged)
        with caplog.at_level(logging.WARNING, logger="sessionkeeper.security"):
            assert client.get("/read").json == {}
    assert store.calls["get"] == 0
    assert sum("bad signature" in r.getMessage() for r in caplog.records) == 4


def test_a_stale_cookie_is_deleted_when_the_session_stays_empty(client: FlaskClient) -> None:
    client.get("/set/a/1")
    stale = cookie_of(client) or ""
    client.get("/destroy")
    client.set_cookie("session", stale)  # validly signed, but its record is gone
    response = client.get("/read")
    assert "session=;" in response.headers["Set-Cookie"]


def test_a_cookie_that_fails_verification_is_never_deleted(
    store: CountingStore, clock: Any
) -> None:
    # During a rolling key rotation a worker still on the old key must not log users out.
    new_worker = build_app(store, clock, SECRET_KEY="next-secret", SECRET_KEY_FALLBACKS=["k0"])
    client = new_worker.test_client()
    client.get("/set/a/1")
    cookie = cookie_of(client) or ""
    old_worker = build_app(store, clock, SECRET_KEY="test-secret").test_client()
    old_worker.set_cookie("session", cookie)
    response = old_worker.get("/read")
    assert response.json == {}
    assert "Set-Cookie" not in response.headers
    assert client.get("/read").json == {"a": "1"}


def test_undecodable_record_gives_empty_session_and_a_warning(
    client: FlaskClient, store: CountingStore, caplog: pytest.LogCaptureFixture
) -> None:
    client.get("/set/a/1")
    (key,) = stored(store)
    store.set(key, b"\xff not json", ttl=60)
    with caplog.at_level(logging.WARNING, logger="sessionkeeper.security"):
        assert client.get("/read").json == {}
    assert any("undecodable" in r.getMessage() for r in caplog.records)


def test_every_record_expires(client: FlaskClient, store: CountingStore, clock: Any) -> None:
    client.get("/set/a/1")
    (key,) = stored(store)
    record = store.get(key)
    assert record is not None and record.expires == pytest.approx(clock() + 1800)


def test_idle_timeout_ends_an_unused_session(client: FlaskClient, clock: Any) -> None:
    client.get("/set/a/1")
    clock.advance(1799)
    assert client.get("/read").json == {"a": "1"}
    clock.advance(1801)
    assert client.get("/read").json == {}


def test_activity_rolls_the_idle_expiry_with_touches_at_most_once_per_interval(
    client: FlaskClient, store: CountingStore, clock: Any
) -> None:
    client.get("/set/a/1")
    store.calls.clear()
    for _ in range(120):  # two hours of reads, one every minute
        clock.advance(60)
        assert client.get("/read").json == {"a": "1"}
    assert store.calls["set"] == 0
    assert store.calls["touch"] == 120  # one per touch interval (60 s), none more
    store.calls.clear()
    for _ in range(30):  # reads every 10 s: one touch per minute at most
        clock.advance(10)
        client.get("/read")
    assert store.calls["touch"] == 5


def test_absolute_timeout_ends_even_an_active_session(client: FlaskClient, clock: Any) -> None:
    client.get("/set/a/1")
    for _ in range(12 * 6 - 1):  # active every 10 minutes for almost 12 hours
        clock.advance(600)
        assert client.get("/read").json == {"a": "1"}
    clock.advance(600)
    assert client.get("/read").json == {}


def test_durations_accept_seconds_and_timedeltas(store: CountingStore, clock: Any) -> None:
    app = build_app(
        store, clock, SESSION_IDLE_TIMEOUT=2.5, SESSION_TOUCH_INTERVAL=dt.timedelta(seconds=0.5)
    )
    client = app.test_client()
    client.get("/set/a/1")
    clock.advance(2.4)
    assert client.get("/read").json == {"a": "1"}
    clock.advance(2.6)
    assert client.get("/read").json == {}


def test_tagged_json_round_trips_flask_types(store: CountingStore, clock: Any) -> None:
    app = build_app(store, clock)
    values = {
        "when": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        "raw": b"\x00\xff",
        "pair": (1, 2),
        "id": uuid.UUID(int=7),
        "html": Markup("<b>hi</b>"),
        "nested": {"list": [1, {"deep": (3,)}]},
    }

    @app.get("/put")
    def put() -> str:
        session.update(values)
        return "ok"

    @app.get("/check")
    def check() -> str:
        return "same" if dict(session) == values else repr(dict(session))

    client = app.test_client()
    client.get("/put")
    assert client.get("/check").text == "same"
    record = next(iter(stored(store).values()))
    assert record["d"]["raw"] == {" b": "AP8="}  # tagged JSON, no pickle


def test_store_outage_on_load_is_a_503(client: FlaskClient, store: CountingStore) -> None:
    client.get("/set/a/1")
    store.down = True
    response = client.get("/read")
    assert response.status_code == 503
    assert response.json == {
        "error": "session_unavailable",
        "message": "The session store is unavailable; please try again shortly.",
    }
    html = client.get("/read", headers={"Accept": "text/html"})
    assert html.status_code == 503 and "Service Unavailable" in html.text
    assert client.get("/ping").status_code == 200  # untouched session, untouched store
    store.down = False
    assert client.get("/read").json == {"a": "1"}


def test_store_outage_on_save_is_a_503(app: Flask, store: CountingStore) -> None:
    @app.get("/set-then-fail")
    def set_then_fail() -> str:
        session["b"] = "2"
        store.down = True
        return "ok"

    client = app.test_client()
    response = client.get("/set-then-fail")
    assert response.status_code == 503
    assert "Set-Cookie" not in response.headers


def test_config_is_read_from_the_store_url(tmp_path: Any) -> None:
    app = Flask(__name__, instance_path=str(tmp_path))
    app.config.update(SECRET_KEY="k", SESSION_STORE="memory://")
    SessionKeeper(app)
    assert isinstance(app.extensions["sessionkeeper"].store, MemoryStore)


def test_rotated_secret_key_still_opens_server_side_cookies(
    store: CountingStore, clock: Any
) -> None:
    old = build_app(store, clock).test_client()
    old.get("/set/user/alice")
    cookie = cookie_of(old) or ""
    rotated = build_app(
        store, clock, SECRET_KEY="next-secret", SECRET_KEY_FALLBACKS=["test-secret"]
    ).test_client()
    rotated.set_cookie("session", cookie)
    assert rotated.get("/read").json == {"user": "alice"}
    stranger = build_app(store, clock, SECRET_KEY="next-secret").test_client()
    stranger.set_cookie("session", cookie)
    assert stranger.get("/read").json == {}


def test_a_key_changed_on_a_running_app_takes_effect(store: CountingStore, clock: Any) -> None:
    app = build_app(store, clock)
    client = app.test_client()
    client.get("/set/user/alice")
    cookie = cookie_of(client) or ""
    app.secret_key = "replaced"  # as Flask's own cookie does, the current keys count
    assert client.get("/read").json == {}
    app.config["SECRET_KEY_FALLBACKS"] = ["test-secret"]
    client.set_cookie("session", cookie)
    assert client.get("/read").json == {"user": "alice"}
    assert client.get("/read").json == {"user": "alice"}  # a verified cookie, remembered
    app.config["SECRET_KEY_FALLBACKS"] = []  # the key withdrawn: what it verified goes too
    assert client.get("/read").json == {}


@pytest.mark.parametrize("value", ["", ".", "abc", "abc.", ".sig", "é.é", "a.b.c", "x" * 4000])
def test_malformed_cookie_values_are_rejected(client: FlaskClient, value: str) -> None:
    client.set_cookie("session", value)
    response = client.get("/read")
    assert response.status_code == 200 and response.json == {}
