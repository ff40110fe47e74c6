"""The Flask extension: pick the session interface and store from the app's config."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, current_app, has_request_context, session

from .config import DEFAULTS, Settings
from .cookie import CookieDefaults, SignedCookieSessionInterface, check_cookie_settings
from .errors import ConfigError, SessionError, StoreError
from .flask_cli import sessions_cli
from .server import ServerSession, ServerSessionInterface, SessionAdmin, SessionInfo
from .server.interface import release_held_locks
from .server.unavailable import unavailable_response
from .state import KeeperState
from .stores import Store, store_from_url
from .stores.base import Clock

__all__ = ["KeeperState", "SessionKeeper"]


class SessionKeeper:
    """Install SessionKeeper's sessions on a Flask app.

    ``SessionKeeper(app)`` or ``keeper = SessionKeeper(); keeper.init_app(app)``.
    ``SESSION_STORE`` picks the mode: ``"cookie"`` (default), a store URL such as
    ``"sqlite:///sessions.db"`` or ``"redis://localhost:6379/0"``, or a ready
    :class:`~sessionkeeper.stores.Store` (whose owner closes it).
    """

    def __init__(self, app: Flask | None = None, *, clock: Clock = time.time) -> None:
        self.clock = clock
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Configure ``app``; a wrong config fails here with a message saying what to set."""
        for key, value in DEFAULTS.items():
            app.config.setdefault(key, value)
        if not app.secret_key:
            raise ConfigError(
                "SessionKeeper needs a secret key to sign session cookies: set SECRET_KEY "
                "(for example to the output of "
                "`python -c 'import secrets; print(secrets.token_hex())'`)"
            )
        if app.config.get("SESSION_COOKIE_SAMESITE") is None:
            app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
        settings = Settings.from_config(app.config)
        check_cookie_settings(app, SignedCookieSessionInterface())
        store = self._store(app, settings)
        interface = self._interface(app, settings, store)
        interface.max_cookie_size = settings.cookie_max_size
        admin = None
        if isinstance(interface, ServerSessionInterface):
            admin = SessionAdmin(
                interface.store,
                interface.keys,
                idle_timeout=settings.idle_timeout,
                tagger=interface.serializer,
            )
            if settings.locking:  # else registered with the first lock (@locked views)
                app.teardown_request(release_held_locks)
        app.session_interface = interface
        app.extensions["sessionkeeper"] = KeeperState(interface, settings, store, admin)
        app.register_error_handler(StoreError, unavailable_response)
        app.register_error_handler(SessionError, unavailable_response)
        app.cli.add_command(sessions_cli)

    def _interface(self, app: Flask, settings: Settings, store: Store | None) -> CookieDefaults:
        if store is not None:
            return ServerSessionInterface(store, settings, app, clock=self.clock)
        if app.config["SESSION_COOKIE_ENCRYPT"]:
            # cryptography is optional: import it only when encryption is asked for
            from .cookie.encrypted import EncryptedCookieSessionInterface

            return EncryptedCookieSessionInterface(clock=self.clock)
        return SignedCookieSessionInterface()

    def admin(self, app: Flask | None = None) -> SessionAdmin:
        """Operations on the stored sessions of ``app`` (default: the current app)."""
        return self.state(app or current_app).require_admin()

    def sessions_of(self, user_id: str | int) -> list[SessionInfo]:
        """The live sessions bound to ``user_id`` with ``session.bind_user``."""
        return self.admin().sessions_of(user_id)

    def revoke_user(self, user_id: str | int, *, keep_current: bool = False) -> int:
        """Log ``user_id`` out everywhere (but here, with ``keep_current``); return how many."""
        keep = None
        if keep_current and has_request_context() and isinstance(session, ServerSession):
            keep = session.id_hash
        return self.admin().revoke_user(user_id, keep=keep)

    def _store(self, app: Flask, settings: Settings) -> Store | None:
        configured: Any = app.config["SESSION_STORE"]
        if isinstance(configured, Store):
            return configured
        if not isinstance(configured, str):
            raise ConfigError(
                f"SESSION_STORE must be 'cookie', a store URL or a Store, got {configured!r}"
            )
        if configured == "cookie":
            return None
        return store_from_url(
            "sqlalchemy://" if configured == "sqlalchemy" else configured,  # the app's engine
            app=app,
            clock=self.clock,
            instance_path=app.instance_path,
            timeout=settings.store_timeout,
            token=app.config["SESSION_KV_TOKEN"],
        )

    @staticmethod
    def state(app: Flask) -> KeeperState:
        """The :class:`KeeperState` of an app this extension was initialised on."""
        return KeeperState.of(app)
