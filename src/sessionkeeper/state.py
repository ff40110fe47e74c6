"""What SessionKeeper keeps for one app, in ``app.extensions["sessionkeeper"]``."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from flask.sessions import SessionInterface

from .config import Settings
from .errors import ConfigError
from .server import SessionAdmin
from .stores.base import Store

__all__ = ["KeeperState"]


@dataclass(frozen=True, slots=True)
class KeeperState:
    """What SessionKeeper set up for one app: ``app.extensions["sessionkeeper"]``."""

    interface: SessionInterface
    settings: Settings
    store: Store | None
    """The server-side store, or None in cookie mode."""
    admin: SessionAdmin | None = None
    """Operations on the stored sessions, or None in cookie mode."""

    @classmethod
    def of(cls, app: Flask) -> KeeperState:
        """The state of an app SessionKeeper was initialised on."""
        state = app.extensions.get("sessionkeeper")
        if not isinstance(state, cls):
            raise RuntimeError("SessionKeeper.init_app(app) has not been called")
        return state

    def require_admin(self) -> SessionAdmin:
        """The admin API of a server-side store; a ConfigError in cookie mode."""
        if self.admin is None:
            raise ConfigError(
                "sessions are kept in cookies (SESSION_STORE = 'cookie'): nothing is stored; "
                "set SESSION_STORE to a store URL"
            )
        return self.admin
