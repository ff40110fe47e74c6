"""SessionKeeper as a Flask extension: configuration, errors at start, public API."""

from __future__ import annotations

import datetime as dt
import inspect
from typing import Any

import pytest
from flask import Flask

import sessionkeeper
from sessionkeeper import ConfigError, MemoryStore, SessionKeeper
from sessionkeeper.config import DEFAULTS, seconds
from sessionkeeper.server import ServerSessionInterface


def test_missing_secret_key_fails_at_start_saying_what_to_set() -> None:
    app = Flask(__name__)
    with pytest.raises(ConfigError, match="set SECRET_KEY"):
        SessionKeeper(app)


def test_unknown_store_url_fails_at_start() -> None:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="k", SESSION_STORE="mongodb://x")
    with pytest.raises(ConfigError, match="set SESSION_STORE to 'cookie' or a URL"):
        SessionKeeper(app)


def test_store_of_wrong_type_fails_at_start() -> None:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="k", SESSION_STORE=42)
    with pytest.raises(ConfigError, match="SESSION_STORE must be"):
        SessionKeeper(app)


@pytest.mark.parametrize("bad", [-1, "30", None, True])
def test_bad_duration_fails_naming_the_key(bad: Any) -> None:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="k", SESSION_STORE="memory://", SESSION_IDLE_TIMEOUT=bad)
    with pytest.raises(ConfigError, match="SESSION_IDLE_TIMEOUT"):
        SessionKeeper(app)


def test_touch_interval_must_be_shorter_than_idle_timeout() -> None:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="k", SESSION_IDLE_TIMEOUT=60, SESSION_TOUCH_INTERVAL=dt.timedelta(minutes=2)
    )
    with pytest.raises(ConfigError, match="SESSION_TOUCH_INTERVAL"):
        SessionKeeper(app)


def test_durations_keep_sub_second_precision() -> None:
    assert seconds(dt.timedelta(milliseconds=1500), "X") == 1.5
    assert seconds(0.25, "X") == 0.25
    assert seconds(3, "X") == 3.0


def test_defaults_are_set_once_and_app_values_win() -> None:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="k", SESSION_IDLE_TIMEOUT=99)
    SessionKeeper(app)
    assert app.config["SESSION_IDLE_TIMEOUT"] == 99
    for key in DEFAULTS:
        assert key in app.config
    assert app.extensions["sessionkeeper"].settings.idle_timeout == 99


def test_init_app_pattern_and_ready_store_instance() -> None:
    keeper = SessionKeeper()
    store = MemoryStore()
    apps = []
    for _ in range(2):
        app = Flask(__name__)
        app.config.update(SECRET_KEY="k", SESSION_STORE=store)
        keeper.init_app(app)
        apps.append(app)
    for app in apps:
        assert app.extensions["sessionkeeper"].store is store
        assert isinstance(app.session_interface, ServerSessionInterface)
    assert not hasattr(keeper, "app")


def test_samesite_defaults_to_lax() -> None:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "k"
    SessionKeeper(app)
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_public_api_is_explicit() -> None:
    public = {
        name
        for name in dir(sessionkeeper)
        if not name.startswith("_")
        and name != "annotations"
        and not inspect.ismodule(getattr(sessionkeeper, name))
    }
    assert public == set(sessionkeeper.__all__)
