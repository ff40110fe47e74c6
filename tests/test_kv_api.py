"""The KV service's HTTP API, over Flask's test client: every route, status and error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from conftest import FakeClock
from sessionkeeper.errors import StoreUnavailable
from sessionkeeper.kv import create_app
from sessionkeeper.kv.openapi import document
from sessionkeeper.stores.memory import MemoryStore
from sessionkeeper.stores.sqlite import SqliteStore

TOKEN = "t0ken-for-tests"


@pytest.fixture
def kv_store(clock: FakeClock) -> MemoryStore:
    return MemoryStore(clock=clock)


@pytest.fixture
def app(kv_store: MemoryStore) -> Flask:
    return create_app(kv_store)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def assert_json_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status and body["error"] and body["message"]
    return body


# The lab's shapes ---------------------------------------------------------------------------


def test_lab_round_trip(client: FlaskClient) -> None:
    response = client.post("/", json={"foo": "bar"})
    assert (response.status_code, response.get_json()) == (200, {"foo": "bar"})
    response = client.get("/foo")
    assert (response.status_code, response.get_json()) == (200, {"foo": "bar"})


def test_missing_key_is_null_with_404(client: FlaskClient) -> None:
    response = client.get("/nope")
    assert (response.status_code, response.data) == (404, b'{"nope":null}')


def test_prefix_listing_in_key_order(client: FlaskClient) -> None:
    client.post("/", json={"user:b": 1, "user:a": 2, "other": 3})
    assert client.get("/?prefix=user:").get_json() == {"keys": ["user:a", "user:b"]}
    assert client.get("/").get_json() == {"keys": ["other", "user:a", "user:b"]}


def test_form_encoded_post_sets_strings_with_a_token(locked: FlaskClient) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    response = locked.post("/", data={"foo": "bar", "n": "1"}, headers=auth)
    assert response.get_json() == {"foo": "bar", "n": "1"}
    assert locked.get("/n", headers=auth).get_json() == {"n": "1"}


def test_accept_text_plain_still_gets_json(client: FlaskClient) -> None:
    plain = {"Accept": "text/plain"}
    client.post("/", json={"foo": "bar"}, headers=plain)
    response = client.get("/foo", headers=plain)
    assert (response.mimetype, response.get_json()) == ("application/json", {"foo": "bar"})
    assert client.get("/nope", headers=plain).mimetype == "application/json"
    assert_json_error(client.put("/", headers=plain), 405)


# Values and keys ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [None, 0, -1.5, True, "", "héllo \u2603", [1, [2]], {"b": 1, "a": {"c": None}}]
)
def test_any_json_value_round_trips(client: FlaskClient, value: Any) -> None:
    assert client.post("/", json={"k": value}).get_json() == {"k": value}
    response = client.get("/k")
    assert (response.status_code, response.get_json()) == (200, {"k": value})


def test_values_are_stored_as_compact_json(client: FlaskClient, kv_store: MemoryStore) -> None:
    client.post("/", data='{"k": {"b": [1, 2], "a": "\u00e9"}}', content_type="application/json")
    record = kv_store.get("k")
    assert record is not None
    assert record.value == b'{"b":[1,2],"a":"\\u00e9"}'  # key order kept, never sorted


def test_bytes_that_are_not_canonical_json_show_tagged(
    client: FlaskClient, kv_store: MemoryStore
) -> None:
    kv_store.set("bin", b"\x00\xff")
    kv_store.set("spaced", b'{"a": 1}')
    assert client.get("/bin").get_json() == {"bin": {"$b64": "AP8="}}
    assert client.get("/spaced").get_json() == {"spaced": {"$b64": "eyJhIjogMX0="}}
    client.post("/", json={"copy": {"$b64": "AP8="}})
    record = kv_store.get("copy")
    assert record is not None and record.value == b"\x00\xff"


@pytest.mark.parametrize("key", ["a/b", "a//b/", "sp ace?&=#%", "\u65e5\u672c", "x" * 1024])
def test_keys_with_any_url_encoded_characters(client: FlaskClient, key: str) -> None:
    from urllib.parse import quote

    client.post("/", json={key: 1})
    assert client.get("/" + quote(key)).get_json() == {key: 1}
    assert client.get("/", query_string={"key": key}).get_json() == {key: 1}
    assert client.delete("/" + quote(key)).get_json() == {key: 1}


def test_reserved_names_are_still_keys(client: FlaskClient) -> None:
    client.post("/", json={"healthz": "mine", "openapi.json": 2, "clear-expired": 3})
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/?key=healthz").get_json() == {"healthz": "mine"}
    assert client.get("/?key=openapi.json&prefix=x").get_json() == {"openapi.json": 2}
    assert client.get("/clear-expired").get_json() == {"clear-expired": 3}
    assert client.delete("/healthz").get_json() == {"healthz": "mine"}
    assert client.delete("/?key=openapi.json").get_json() == {"openapi.json": 2}


def test_delete_answers_the_old_value_then_404(client: FlaskClient) -> None:
    client.post("/", json={"k": {"v": 1}})
    response = client.delete("/k")
    assert (response.status_code, response.get_json()) == (200, {"k": {"v": 1}})
    response = client.delete("/k")
    assert (response.status_code, response.get_json()) == (404, {"k": None})


# Listing and pages --------------------------------------------------------------------------


def test_pages_carry_a_next_cursor(client: FlaskClient) -> None:
    client.post("/", json={f"k{i}": i for i in range(5)})
    first = client.get("/?prefix=k&limit=2").get_json()
    assert first == {"keys": ["k0", "k1"], "next": "k1"}
    second = client.get("/?prefix=k&limit=2&after=k1").get_json()
    assert second == {"keys": ["k2", "k3"], "next": "k3"}
    assert client.get("/?prefix=k&limit=2&after=k3").get_json() == {"keys": ["k4"], "next": None}
    assert client.get("/?after=k2").get_json() == {"keys": ["k3", "k4"], "next": None}
    assert client.get("/?limit=100000").get_json()["next"] is None


@pytest.mark.parametrize("query", ["limit=0", "limit=-3", "limit=x", "limit=1.5"])
def test_bad_listing_parameters_are_400(client: FlaskClient, query: str) -> None:
    assert_json_error(client.get("/?" + query), 400)


# TTL and touch ------------------------------------------------------------------------------


def test_ttl_query_expires_the_key(client: FlaskClient, clock: FakeClock) -> None:
    client.post("/?ttl=10", json={"k": 1})
    response = client.get("/k")
    assert float(response.headers["KV-Expires"]) == clock() + 10
    clock.advance(10)
    assert client.get("/k").status_code == 404
    assert client.get("/").get_json() == {"keys": []}


def test_ttl_header_and_fractions(client: FlaskClient, clock: FakeClock) -> None:
    client.post("/", json={"k": 1}, headers={"KV-TTL": "0.25"})
    clock.advance(0.2)
    assert client.get("/k").status_code == 200
    clock.advance(0.05)
    assert client.get("/k").status_code == 404


@pytest.mark.parametrize("ttl", ["0", "-1", "nan", "inf", "abc", "1e10", ""])
def test_bad_ttl_is_400(client: FlaskClient, ttl: str) -> None:
    assert_json_error(client.post("/", json={"k": 1}, query_string={"ttl": ttl}), 400)
    assert client.get("/k").status_code == 404


def test_ttl_query_and_header_must_agree(client: FlaskClient) -> None:
    response = client.post("/?ttl=5", json={"k": 1}, headers={"KV-TTL": "6"})
    assert_json_error(response, 400)


def test_patch_touches_without_rewriting(client: FlaskClient, clock: FakeClock) -> None:
    etag = client.post("/?ttl=10", json={"k": 1}).headers["ETag"]
    response = client.patch("/k?ttl=100")
    assert (response.status_code, response.data) == (204, b"")
    clock.advance(50)
    response = client.get("/k")
    assert (response.status_code, response.headers["ETag"]) == (200, etag)
    assert client.patch("/?key=k").status_code == 204  # no TTL: no expiry
    assert "KV-Expires" not in client.get("/k").headers
    assert client.patch("/nope?ttl=5").get_json() == {"nope": None}


def test_clear_expired_counts(client: FlaskClient, clock: FakeClock) -> None:
    client.post("/?ttl=1", json={"a": 1, "b": 2})
    client.post("/", json={"c": 3})
    clock.advance(1)
    assert client.post("/clear-expired").get_json() == {"cleared": 2}


# Versions -----------------------------------------------------------------------------------


def test_etag_compare_and_set(client: FlaskClient) -> None:
    first = client.post("/", json={"k": 1}).headers["ETag"]
    assert client.get("/k").headers["ETag"] == first
    second = client.post("/", json={"k": 2}, headers={"If-Match": first}).headers["ETag"]
    assert second != first
    assert_json_error(client.post("/", json={"k": 3}, headers={"If-Match": first}), 412)
    assert client.get("/k").get_json() == {"k": 2}
    assert (
        client.post("/", json={"k": 4}, headers={"If-Match": f'"x", {second}'}).status_code == 200
    )


def test_if_none_match_star_creates_only(client: FlaskClient) -> None:
    star = {"If-None-Match": "*"}
    assert client.post("/", json={"k": 1}, headers=star).status_code == 200
    assert_json_error(client.post("/", json={"k": 2}, headers=star), 412)
    assert client.get("/k").get_json() == {"k": 1}


def test_if_match_star_and_weak_tags(client: FlaskClient) -> None:
    assert_json_error(client.post("/", json={"k": 1}, headers={"If-Match": "*"}), 412)
    etag = client.post("/", json={"k": 1}).headers["ETag"]
    assert client.post("/", json={"k": 2}, headers={"If-Match": "*"}).status_code == 200
    etag = client.get("/k").headers["ETag"]
    assert_json_error(client.post("/", json={"k": 3}, headers={"If-Match": "W/" + etag}), 412)
    none_match = {"If-None-Match": etag}
    assert_json_error(client.post("/", json={"k": 3}, headers=none_match), 412)


def test_get_if_none_match_is_304(client: FlaskClient) -> None:
    etag = client.post("/", json={"k": 1}).headers["ETag"]
    response = client.get("/k", headers={"If-None-Match": etag})
    assert (response.status_code, response.headers["ETag"]) == (304, etag)
    assert client.get("/k", headers={"If-None-Match": '"other"'}).status_code == 200


def test_conditional_delete(client: FlaskClient) -> None:
    old = client.post("/", json={"k": 1}).headers["ETag"]
    current = client.post("/", json={"k": 2}).headers["ETag"]
    assert_json_error(client.delete("/k", headers={"If-Match": old}), 412)
    assert_json_error(client.delete("/k", headers={"If-None-Match": "*"}), 412)
    assert client.delete("/k", headers={"If-Match": current}).get_json() == {"k": 2}
    assert_json_error(client.delete("/k", headers={"If-Match": current}), 412)
    assert client.delete("/k", headers={"If-None-Match": "*"}).status_code == 404


def test_conditions_need_exactly_one_key(client: FlaskClient) -> None:
    response = client.post("/", json={"a": 1, "b": 2}, headers={"If-None-Match": "*"})
    assert_json_error(response, 400)


# Auth ---------------------------------------------------------------------------------------


@pytest.fixture
def locked(kv_store: MemoryStore) -> FlaskClient:
    return create_app(kv_store, token=TOKEN).test_client()


@pytest.mark.parametrize(
    ("header", "error"),
    [(None, None), ("Bearer wrong", "invalid_token"), (f"Basic {TOKEN}", "invalid_token")],
)
def test_missing_or_wrong_token_is_401(locked: FlaskClient, header: str | None, error: str) -> None:
    headers = {} if header is None else {"Authorization": header}
    for response in (locked.get("/k", headers=headers), locked.post("/", json={}, headers=headers)):
        assert_json_error(response, 401)
        challenge = response.headers["WWW-Authenticate"]
        assert challenge.startswith("Bearer ") and TOKEN not in challenge
        assert ("invalid_token" in challenge) == (error is not None)


def test_right_token_passes(locked: FlaskClient) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert locked.post("/", json={"k": 1}, headers=auth).status_code == 200
    assert locked.get("/k", headers=auth).get_json() == {"k": 1}


def test_health_and_schema_need_no_token(locked: FlaskClient) -> None:
    assert locked.get("/healthz").status_code == 200
    assert locked.get("/openapi.json").status_code == 200
    assert_json_error(locked.post("/clear-expired"), 401)
    assert_json_error(locked.get("/no/such/route//"), 401)


# Limits and malformed requests --------------------------------------------------------------


def test_key_over_the_limit_is_413(client: FlaskClient) -> None:
    assert_json_error(client.post("/", json={"k" * 1025: 1}), 413)
    assert_json_error(client.get("/" + "k" * 1025), 413)
    assert_json_error(client.post("/", json={"\u00e9" * 513: 1}), 413)  # 1026 bytes of UTF-8


def test_value_over_the_limit_is_413_and_nothing_is_written(client: FlaskClient) -> None:
    big = "x" * (1 << 20)  # its JSON has two quotes more
    assert_json_error(client.post("/", json={"a": 1, "b": big}), 413)
    assert client.get("/").get_json() == {"keys": []}
    assert client.post("/", json={"b": big[:-2]}).status_code == 200


def test_body_over_the_limit_is_413(client: FlaskClient, locked: FlaskClient) -> None:
    body = json.dumps({f"k{i}": "x" * 1_000_000 for i in range(5)})
    assert_json_error(client.post("/", data=body, content_type="application/json"), 413)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert_json_error(locked.post("/", data={"k": "x" * (5 << 20)}, headers=auth), 413)


def test_limits_are_configurable(kv_store: MemoryStore) -> None:
    small = create_app(kv_store, max_key_bytes=4, max_value_bytes=8, max_body_bytes=64)
    client = small.test_client()
    assert client.post("/", json={"abcd": "123456"}).status_code == 200
    assert_json_error(client.post("/", json={"abcde": 1}), 413)
    assert_json_error(client.post("/", json={"a": "1234567"}), 413)
    assert_json_error(client.post("/", json={"a": "1" * 80}), 413)
    with pytest.raises(ValueError):
        create_app(kv_store, max_key_bytes=0)


@pytest.mark.parametrize(
    "body",
    [b"{", b"", b"[1]", b'"x"', b"1", b"null", b'{"k": NaN}', b'{"k": 1e400}', b"[" * 100_000,
     b'{"k": {"$b64": "***"}}', b'{"": 1}', b'{"\\ud800": 1}', b"\xff"],
)  # fmt: skip
def test_malformed_bodies_are_400(client: FlaskClient, body: bytes) -> None:
    assert_json_error(client.post("/", data=body, content_type="application/json"), 400)
    assert client.get("/").get_json() == {"keys": []}


def test_wrong_method_is_405_with_allow(client: FlaskClient) -> None:
    body = assert_json_error(client.put("/"), 405)
    assert "Method Not Allowed" in body["error"]
    assert "POST" in client.put("/").headers["Allow"]
    assert_json_error(client.post("/k"), 405)
    assert_json_error(client.delete("/"), 400)  # the key is missing, not the method


def test_store_failure_is_503_json(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "kv.db")
    client = create_app(store).test_client()
    assert client.post("/", json={"k": 1}).status_code == 200
    store.close()
    for response in (client.get("/k"), client.get("/healthz"), client.post("/", json={"k": 2})):
        body = assert_json_error(response, 503)
        assert "store" in body["message"]


class ExplodingStore(MemoryStore):
    def get(self, key: str) -> Any:
        if key == "down":
            raise StoreUnavailable("connection refused")
        raise RuntimeError("a bug")


def test_unexpected_errors_are_json_not_html(caplog: pytest.LogCaptureFixture) -> None:
    client = create_app(ExplodingStore()).test_client()
    assert_json_error(client.get("/down"), 503)
    body = assert_json_error(client.get("/bug"), 500)
    assert "a bug" not in body["message"]


# Health, schema, development server --------------------------------------------------------


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})


def test_openapi_document_lists_exactly_the_routes(app: Flask, client: FlaskClient) -> None:
    doc = client.get("/openapi.json").get_json()
    assert doc == document()
    assert doc["openapi"].startswith("3.1")
    documented = {(path, method.upper()) for path, item in doc["paths"].items() for method in item}
    served = {
        (rule.rule.replace("<key:key>", "{key}"), method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    assert documented == served


def test_flask_run_finds_the_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flask.cli import ScriptInfo

    monkeypatch.chdir(tmp_path)
    app = ScriptInfo(app_import_path="sessionkeeper.kv").load_app()
    client = app.test_client()
    assert client.post("/", json={"foo": "bar"}).status_code == 200
    assert (tmp_path / "kv.sqlite3").exists()
    app.extensions["sessionkeeper.kv"].store.close()


# Fuzzing from the OpenAPI document ----------------------------------------------------------


def test_fuzz_finds_no_server_error_and_no_schema_mismatch() -> None:
    """Every answer to generated requests is no 5xx and is what the document says.

    Only "every schema-valid request is accepted" is left out: a few rules span
    fields (conditional headers need one key; ``?ttl=`` and ``KV-TTL`` must agree).
    """
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import positive_data_acceptance
    from schemathesis.core.result import Ok

    app = create_app(MemoryStore(), token=TOKEN)
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the document itself is valid
        strategy = result.ok().as_strategy()

        @given(case=strategy)
        @settings(
            max_examples=12,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any) -> None:
            case.call_and_validate(headers=auth, excluded_checks=[positive_data_acceptance])

        fuzz()
