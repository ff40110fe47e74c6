"""Cookie-mode sessions: Flask's signed cookie with secure defaults, and the encrypted cookie."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import secrets
from typing import Any

import pytest
from flask import Flask, jsonify, session
from flask.testing import FlaskClient

from sessionkeeper import CookieTooLarge, SessionKeeper
from sessionkeeper.cookie import SignedCookieSessionInterface
from sessionkeeper.cookie.encrypted import EncryptedCookieSessionInterface


def build_app(clock: Any, **config: Any) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="current-secret", **config)
    SessionKeeper(app, clock=clock)

    @app.get("/read")
    def read() -> Any:
        return jsonify(dict(session))

    @app.get("/set/<key>/<value>")
    def set_(key: str, value: str) -> str:
        session[key] = value
        return "ok"

    @app.get("/big/<int:size>")
    def big(size: int) -> str:
        session["blob"] = secrets.token_urlsafe(size)[:size]
        return "ok"

    @app.get("/clear")
    def clear() -> str:
        session.clear()
        return "ok"

    return app


@pytest.fixture(params=[False, True], ids=["signed", "encrypted"])
def encrypt(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def client(clock: Any, encrypt: bool) -> FlaskClient:
    return build_app(clock, SESSION_COOKIE_ENCRYPT=encrypt).test_client()


def cookie_of(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def test_cookie_is_the_default_mode_with_flask_signing(clock: Any) -> None:
    app = build_app(clock)
    assert isinstance(app.session_interface, SignedCookieSessionInterface)
    assert app.extensions["sessionkeeper"].store is None
    client = app.test_client()
    client.get("/set/name/alice")
    # Flask's own serializer reads our cookie: this is Flask's signed cookie format.
    serializer = app.session_interface.get_signing_serializer(app)
    assert serializer is not None
    assert serializer.loads(cookie_of(client)) == {"name": "alice"}


def test_round_trip_and_secure_defaults(client: FlaskClient) -> None:
    header = client.get("/set/name/alice").headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" not in header
    assert client.get("/read").json == {"name": "alice"}
    delete_header = client.get("/clear").headers["Set-Cookie"]
    assert "HttpOnly" in delete_header and "SameSite=Lax" in delete_header


def test_secure_under_https(client: FlaskClient) -> None:
    response = client.get("/set/a/1", base_url="https://localhost")
    assert "Secure" in response.headers["Set-Cookie"]


def test_secure_when_configured(clock: Any) -> None:
    client = build_app(clock, SESSION_COOKIE_SECURE=True).test_client()
    assert "Secure" in client.get("/set/a/1").headers["Set-Cookie"]


def test_app_samesite_choice_is_kept(clock: Any) -> None:
    client = build_app(clock, SESSION_COOKIE_SAMESITE="Strict").test_client()
    assert "SameSite=Strict" in client.get("/set/a/1").headers["Set-Cookie"]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda v: v[:-3] + ("AAA" if not v.endswith("AAA") else "BBB"),
        lambda v: "x" + v,
        lambda v: "v1.!!!notbase64",
        lambda v: "",
    ],
    ids=["flipped-tail", "prefixed", "garbage", "empty"],
)
def test_tampered_cookie_gives_an_empty_session(
    client: FlaskClient, tamper: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client.get("/set/name/alice")
    client.set_cookie("session", tamper(cookie_of(client)))
    with caplog.at_level(logging.WARNING, logger="sessionkeeper.security"):
        response = client.get("/read")
    assert response.status_code == 200 and response.json == {}


def test_tampered_cookie_is_logged(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    client.get("/set/name/alice")
    value = cookie_of(client)
    client.set_cookie("session", "x" + value)
    with caplog.at_level(logging.WARNING, logger="sessionkeeper.security"):
        client.get("/read")
    assert any("rejected session cookie" in r.getMessage() for r in caplog.records)
    assert all(value not in r.getMessage() for r in caplog.records)


def test_oversized_cookie_raises_naming_the_size(client: FlaskClient) -> None:
    client.application.testing = True  # let the error reach the test instead of a 500 page
    client.get("/big/3000")
    with pytest.raises(CookieTooLarge, match=r"would be \d+ bytes, over the 4093-byte limit"):
        client.get("/big/5000")


def test_encrypted_cookie_hides_the_plaintext(clock: Any) -> None:
    app = build_app(clock, SESSION_COOKIE_ENCRYPT=True)
    assert isinstance(app.session_interface, EncryptedCookieSessionInterface)
    client = app.test_client()
    client.get("/set/name/alice-wonderland")
    value = cookie_of(client)
    assert value.startswith("v1.")
    body = value[3:]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    assert b"alice" not in raw and "alice" not in value
    assert client.get("/read").json == {"name": "alice-wonderland"}


def test_encrypted_cookie_is_fresh_each_time(clock: Any) -> None:
    client = build_app(clock, SESSION_COOKIE_ENCRYPT=True).test_client()
    client.get("/set/a/1")
    first = cookie_of(client)
    client.get("/set/a/2")
    assert cookie_of(client) != first


def test_rotated_key_still_opens_old_cookies(clock: Any, encrypt: bool) -> None:
    old_app = build_app(clock, SESSION_COOKIE_ENCRYPT=encrypt)
    old_client = old_app.test_client()
    old_client.get("/set/name/alice")
    old_cookie = cookie_of(old_client)

    rotated = build_app(clock, SESSION_COOKIE_ENCRYPT=encrypt)
    rotated.config.update(SECRET_KEY="next-secret", SECRET_KEY_FALLBACKS=["current-secret"])
    client = rotated.test_client()
    client.set_cookie("session", old_cookie)
    assert client.get("/read").json == {"name": "alice"}
    client.get("/set/role/admin")  # re-written under the new key
    unrelated = build_app(clock, SESSION_COOKIE_ENCRYPT=encrypt)
    unrelated.config.update(SECRET_KEY="next-secret")
    fresh = unrelated.test_client()
    fresh.set_cookie("session", cookie_of(client))
    assert fresh.get("/read").json == {"name": "alice", "role": "admin"}


def test_wrong_key_cannot_open_a_cookie(clock: Any, encrypt: bool) -> None:
    client = build_app(clock, SESSION_COOKIE_ENCRYPT=encrypt).test_client()
    client.get("/set/name/alice")
    other = build_app(clock, SESSION_COOKIE_ENCRYPT=encrypt)
    other.config["SECRET_KEY"] = "another"
    stranger = other.test_client()
    stranger.set_cookie("session", cookie_of(client))
    assert stranger.get("/read").json == {}


def test_encrypted_cookie_expires_with_permanent_session_lifetime(clock: Any) -> None:
    app = build_app(
        clock, SESSION_COOKIE_ENCRYPT=True, PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=1)
    )
    client = app.test_client()
    client.get("/set/a/1")
    clock.advance(3599)
    assert client.get("/read").json == {"a": "1"}
    clock.advance(2)
    assert client.get("/read").json == {}


def test_encrypted_large_session_is_compressed(clock: Any) -> None:
    app = build_app(clock, SESSION_COOKIE_ENCRYPT=True)

    @app.get("/repetitive")
    def repetitive() -> str:
        session["text"] = "all work and no play " * 300
        return "ok"

    client = app.test_client()
    client.get("/repetitive")
    assert len(cookie_of(client)) < 1000
    assert client.get("/read").json == {"text": "all work and no play " * 300}


def test_configured_cookie_limit_applies_in_every_mode(clock: Any, encrypt: bool) -> None:
    app = build_app(clock, SESSION_COOKIE_ENCRYPT=encrypt, SESSION_COOKIE_MAX_SIZE=600)
    app.testing = True
    client = app.test_client()
    client.get("/big/100")
    with pytest.raises(CookieTooLarge, match="over the 600-byte limit"):
        client.get("/big/1000")
