"""The service's fast path answers exactly as Flask does, and answers the hot requests itself.

Every request goes to two services in the same state, one built with the fast
path and one with ``fast=False``; status line, headers and body must match byte
for byte. Requests marked hot must never reach the Flask app behind the fast path.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from conftest import FakeClock
from sessionkeeper.errors import StoreUnavailable
from sessionkeeper.kv import create_app
from sessionkeeper.kv.fast import FastPath
from sessionkeeper.stores import Record
from sessionkeeper.stores.memory import MemoryStore

TOKEN = "t0ken-for-tests"
JSON: dict[str, Any] = {"Content-Type": "application/json"}
Answer = tuple[str, list[tuple[str, str]], bytes]


class FlakyStore(MemoryStore):
    """A memory store that fails every call while ``down`` is set."""

    down = False

    def get(self, key: str) -> Record | None:
        if self.down:
            raise StoreUnavailable("the disk is gone")
        return super().get(key)

    def set(self, key: str, value: bytes, **options: Any) -> str:
        if self.down:
            raise StoreUnavailable("the disk is gone")
        return super().set(key, value, **options)


@dataclass
class Twins:
    """The same service twice: with the fast path, and Flask alone."""

    fast: Any
    flask: Any
    stores: tuple[FlakyStore, FlakyStore]
    fallbacks: list[str] = field(default_factory=list)


def twins(clock: FakeClock, **options: Any) -> Twins:
    stores = (FlakyStore(clock=clock), FlakyStore(clock=clock))
    pair = Twins(
        create_app(stores[0], **options), create_app(stores[1], fast=False, **options), stores
    )
    path = pair.fast.wsgi_app
    assert isinstance(path, FastPath) and not isinstance(pair.flask.wsgi_app, FastPath)
    behind = path.app

    def counted(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        pair.fallbacks.append(environ["REQUEST_METHOD"])
        return behind(environ, start_response)

    path.app = counted
    return pair


def call(app: Any, method: str, target: str, body: bytes, headers: dict[str, str]) -> Answer:
    path, _, query = target.partition("?")
    overrides = {"REMOTE_ADDR": headers.pop("Remote-Addr", "127.0.0.1")}
    if "Path-Info" in headers:  # a raw PATH_INFO, as a server decodes it (latin-1)
        overrides["PATH_INFO"] = headers.pop("Path-Info")
    builder = EnvironBuilder(
        path=path, query_string=query, method=method, headers=list(headers.items()), data=body
    )
    environ = builder.get_environ()
    environ.update(overrides)
    answer, status, sent = run_wsgi_app(app, environ, buffered=True)
    return status, list(sent.items()), b"".join(answer)


def same(
    pair: Twins, method: str, target: str, body: Any = b"", *, hot: bool = False, **headers: Any
) -> Answer:
    """Send one request to both twins; assert equal answers (and, if hot, no fallback)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = {name.replace("_", "-"): value for name, value in headers.items()}
    before = len(pair.fallbacks)
    fast = call(pair.fast, method, target, data, dict(sent))
    flask = call(pair.flask, method, target, data, dict(sent))
    assert fast == flask, (method, target, headers)
    if hot:
        assert len(pair.fallbacks) == before, f"{method} {target} reached Flask"
    return fast


@pytest.fixture
def local(clock: FakeClock) -> Twins:
    return twins(clock)


def test_hot_reads_writes_and_touches_skip_flask(local: Twins, clock: FakeClock) -> None:
    status, headers, body = same(local, "POST", "/", {"k": {"a": 1}}, hot=True, **JSON)
    assert (status, body) == ("200 OK", b'{"k":{"a":1}}') and ("ETag", '"1"') in headers
    same(local, "POST", "/?ttl=30", {"k2": "v"}, hot=True, **JSON)
    same(local, "POST", "/", {"k3": [1, 2.5, None]}, hot=True, KV_TTL="60", **JSON)
    same(local, "POST", "/?ttl=30", {"k3": 1}, hot=True, KV_TTL="30", **JSON)
    same(local, "POST", "/?ttl=1800.0", {"k": {"a": 2}}, hot=True, If_Match='"1"', **JSON)
    same(local, "POST", "/", {"new": 1}, hot=True, If_None_Match="*", **JSON)
    same(local, "POST", "/", {"healthz": "a key like a route"}, hot=True, **JSON)
    same(local, "POST", "/", {"é/ü\nkey": "\u2603"}, hot=True, **JSON)
    for target in [
        "/?key=k",
        "/k",
        "/?key=k2",
        "/k3",
        "/?key=healthz",
        "/?key=%C3%A9%2F%C3%BC%0Akey",
    ]:
        status, headers, _ = same(local, "GET", target, hot=True)
        assert status == "200 OK" and headers[0][0] == "ETag"
    assert ("KV-Expires", repr(clock.now + 30)) in same(local, "GET", "/?key=k2", hot=True)[1]
    assert same(local, "GET", "/?key=nope", hot=True)[::2] == ("404 NOT FOUND", b'{"nope":null}')
    same(local, "GET", "/nope", hot=True)
    same(local, "GET", "/k?ignored=1", hot=True, If_Match='"9"', Accept="text/plain")
    same(local, "GET", "/?key=a+b&limit=3", hot=True)
    assert same(local, "PATCH", "/?key=k&ttl=10", hot=True)[0] == "204 NO CONTENT"
    same(local, "PATCH", "/k", hot=True)
    same(local, "PATCH", "/k2", hot=True, KV_TTL="5")
    same(local, "PATCH", "/?key=nope&ttl=10", hot=True)
    same(local, "GET", "/?key=k", hot=True, Host="127.0.0.1:5100", Origin="http://127.0.0.1:5100")
    same(local, "GET", "/?key=k", hot=True, Host="[::1]", Sec_Fetch_Site="same-origin")
    assert local.fallbacks == []


def test_the_fast_path_words_the_errors_it_meets_after_the_store(local: Twins) -> None:
    same(local, "POST", "/", {"k": 1}, hot=True, **JSON)
    status, _, body = same(local, "POST", "/", {"k": 2}, hot=True, If_Match='"9"', **JSON)
    assert status.startswith("412") and b"not at the expected version" in body
    same(local, "POST", "/", {"k": 3}, hot=True, If_None_Match="*", **JSON)
    for store in local.stores:
        store.down = True
    assert same(local, "GET", "/?key=k", hot=True)[0].startswith("503")
    same(local, "POST", "/", {"k": 4}, hot=True, **JSON)
    assert local.fallbacks == []


def test_values_round_trip_as_the_codec_shows_them(local: Twins) -> None:
    def tag(data: bytes) -> dict[str, str]:
        return {"$b64": base64.b64encode(data).decode()}

    values: list[Any] = [tag(b"\x00\xff"), tag(b"1"), tag(b'{"a": 1}'), tag(b'{"$b64":"AA=="}')]
    values += [{"$b64": "AA==", "x": 1}, 1e16, -0.0, "\u00e9", {"nested": {"$b64": "AA=="}}]
    for i, value in enumerate(values):
        same(local, "POST", "/", {f"v{i}": value}, hot=True, **JSON)
        same(local, "GET", f"/?key=v{i}", hot=True)


@pytest.mark.parametrize(
    ("method", "target", "body", "headers"),
    [
        ("GET", "/healthz", b"", {}),
        ("GET", "/openapi.json", b"", {}),
        ("GET", "/clear-expired", b"", {}),
        ("GET", "/healthz/", b"", {}),
        ("GET", "/static/k", b"", {}),
        ("PATCH", "/static/k", b"", {}),
        ("GET", "/static", b"", {}),
        ("GET", "/", b"", {}),
        ("GET", "/?prefix=k&limit=1", b"", {}),
        ("GET", "/?key=", b"", {}),
        ("GET", "/?key", b"", {}),
        ("GET", "/?key=" + "x" * 1025, b"", {}),
        ("GET", "/?key=%FF", b"", {}),
        ("GET", "/?key=k&key=other", b"", {}),
        ("GET", "//k", b"", {}),
        ("GET", "/x", b"", {"Path-Info": "/\xff"}),
        ("GET", "/k", b"", {"If-None-Match": '"1"'}),
        ("GET", "/k", b"", {"If-None-Match": '"2", W/"1"'}),
        ("GET", "/?key=k", b"", {"If-None-Match": '"9"'}),
        ("HEAD", "/k", b"", {}),
        ("OPTIONS", "/k", b"", {}),
        ("DELETE", "/?key=k", b"", {}),
        ("PATCH", "/", b"", {}),
        ("PATCH", "/?key=k&ttl=abc", b"", {}),
        ("PATCH", "/?key=k&ttl=0", b"", {}),
        ("PATCH", "/?key=k&ttl=5", b"", {"KV-TTL": "6"}),
        ("POST", "/", b"not json", JSON),
        ("POST", "/", b"[1, 2]", JSON),
        ("POST", "/", b"", JSON),
        ("POST", "/", b'{"a": NaN}', JSON),
        ("POST", "/", b"[" * 100_000, JSON),
        ("POST", "/", b'{"a": 1, "b": 2}', JSON),
        ("POST", "/", b'{"a": 1, "b": 2}', {**JSON, "If-Match": '"1"'}),
        ("POST", "/", b"{}", {**JSON, "If-None-Match": "*"}),
        ("POST", "/", b'{"": 1}', JSON),
        ("POST", "/", b'{"\\ud800": 1}', JSON),
        ("POST", "/", b'{"a": {"$b64": "!!"}}', JSON),
        ("POST", "/", b'{"a": {"$b64": 5}}', JSON),
        ("POST", "/?ttl=nan", b'{"a": 1}', JSON),
        ("POST", "/?ttl=1e10", b'{"a": 1}', JSON),
        ("POST", "/?ttl=5", b'{"a": 1}', {**JSON, "KV-TTL": "6"}),
        ("POST", "/", b'{"k": 5}', {**JSON, "If-Match": '"1", "2"'}),
        ("POST", "/", b'{"k": 5}', {**JSON, "If-Match": "*"}),
        ("POST", "/", b'{"k": 5}', {**JSON, "If-Match": 'W/"1"'}),
        ("POST", "/", b'{"k": 5}', {**JSON, "If-None-Match": '"1"'}),
        ("POST", "/", b'{"k": 5}', {**JSON, "If-Match": '"1"', "If-None-Match": "*"}),
        ("POST", "/", b'{"k": 5}', {"Content-Type": "application/json; charset=utf-8"}),
        ("POST", "/", b'{"k": 5}', {"Content-Type": "text/plain"}),
        ("POST", "/", b"k=5", {"Content-Type": "application/x-www-form-urlencoded"}),
        ("POST", "/", b'{"k": 5}', {}),
        ("POST", "/k", b'{"k": 5}', JSON),
        ("POST", "/clear-expired", b"", JSON),
        ("POST", "/", b'{"k": 5}', {**JSON, "Origin": "https://evil.example"}),
        ("POST", "/", b'{"k": 5}', {**JSON, "Origin": "null"}),
        ("POST", "/", b'{"k": 5}', {**JSON, "Sec-Fetch-Site": "cross-site"}),
        ("GET", "/?key=k", b"", {"Sec-Fetch-Site": "Same-Site"}),
        ("GET", "/?key=k", b"", {"Host": "evil.example"}),
        ("GET", "/?key=k", b"", {"Host": "127.0.0.1.nip.io:80"}),
        ("GET", "/?key=k", b"", {"Host": "bad host"}),
        ("GET", "/?key=k", b"", {"Remote-Addr": "10.0.0.1"}),
        ("PATCH", "/?key=k", b"", {"Remote-Addr": "192.0.2.1"}),
        ("POST", "/", b'{"k": 5}', {**JSON, "Remote-Addr": "::ffff:10.0.0.1"}),
    ],
)
def test_everything_else_answers_as_flask_does(
    local: Twins, method: str, target: str, body: bytes, headers: dict[str, Any]
) -> None:
    same(local, "POST", "/", {"k": 1}, hot=True, **JSON)
    same(local, method, target, body, **headers)
    same(local, "GET", "/?key=k", hot=True)  # and the same state after it


def test_limits_are_the_apps_own(clock: FakeClock) -> None:
    pair = twins(clock, max_key_bytes=8, max_value_bytes=16, max_body_bytes=64, max_post_keys=1)
    same(pair, "POST", "/", {"12345678": "x" * 14}, hot=True, **JSON)
    same(pair, "POST", "/", {"123456789": 1}, **JSON)
    same(pair, "POST", "/", {"k": "x" * 15}, **JSON)
    same(pair, "POST", "/", {"k": "x" * 70}, **JSON)
    same(pair, "POST", "/", {"a": 1, "b": 2}, **JSON)
    same(pair, "GET", "/123456789")
    same(pair, "PATCH", "/?key=123456789")
    same(pair, "GET", "/12345678", hot=True)


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer wrong", f"bearer {TOKEN}", f"Basic {TOKEN}", f"Bearer {TOKEN}x"],
)
def test_the_token_is_checked_alike(clock: FakeClock, authorization: str | None) -> None:
    pair = twins(clock, token=TOKEN)
    auth: dict[str, Any] = {"Authorization": f"Bearer {TOKEN}"}
    same(pair, "POST", "/", {"k": 1}, hot=True, **auth, **JSON)
    sent: dict[str, Any] = {} if authorization is None else {"Authorization": authorization}
    hot = authorization == f"bearer {TOKEN}"
    for method, target, body in [
        ("GET", "/?key=k", b""),
        ("PATCH", "/k", b""),
        ("POST", "/", b'{"k": 2}'),
    ]:
        status = same(pair, method, target, body, hot=hot, **sent, **JSON)[0]
        assert hot or status.startswith("401")
    # With a token the service answers other machines, forms and any Host.
    remote = {
        "Remote_Addr": "10.0.0.1",
        "Host": "kv.internal:5100",
        "Origin": "https://app.example",
    }
    same(pair, "GET", "/?key=k", hot=True, **auth, **remote)
    same(pair, "POST", "/", b"k=7", **auth, Content_Type="application/x-www-form-urlencoded")
    same(pair, "GET", "/healthz")


def test_a_remote_service_without_a_token_checks_only_the_origin(clock: FakeClock) -> None:
    pair = twins(clock, allow_remote_without_token=True)
    same(pair, "POST", "/", {"k": 1}, hot=True, Remote_Addr="10.0.0.1", Host="kv.example", **JSON)
    same(pair, "GET", "/k", hot=True, Remote_Addr="10.0.0.1", Host="kv.example")
    same(pair, "GET", "/k", Host="kv.example", Origin="https://other.example")
