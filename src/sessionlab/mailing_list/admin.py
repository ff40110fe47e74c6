"""The mailing list's admin pages: one password from config, kept only as a hash.

Log-in attempts are limited per client address (``ADMIN_LOGIN_ATTEMPTS``
failures per ``ADMIN_LOGIN_WINDOW`` seconds), counted in this process.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable

from flask import (
    Blueprint,
    Config,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import TooManyRequests
from werkzeug.security import check_password_hash, generate_password_hash

from ..common import regenerate_session
from .models import Subscriber, db

__all__ = ["LoginLimiter", "bp", "hash_admin_password"]

bp = Blueprint("admin", __name__, url_prefix="/admin")
LIMITER_KEY = "sessionlab.admin_limiter"


class LoginLimiter:
    """Count failed log-ins per client in a sliding window."""

    def __init__(self, attempts: int, window: float, clock: Callable[[], float] = time.monotonic):
        self.attempts, self.window, self.clock = attempts, window, clock
        self._failures: defaultdict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, client: str) -> deque[float]:
        failures = self._failures[client]
        horizon = self.clock() - self.window
        while failures and failures[0] <= horizon:
            failures.popleft()
        return failures

    def blocked_for(self, client: str) -> float:
        """Seconds until ``client`` may try again; 0 if it may now."""
        with self._lock:
            failures = self._recent(client)
            if len(failures) < self.attempts:
                return 0.0
            return failures[0] + self.window - self.clock()

    def failed(self, client: str) -> None:
        """Record a failed attempt by ``client``."""
        with self._lock:
            self._recent(client).append(self.clock())


def hash_admin_password(config: Config) -> None:
    """Replace a plain ``ADMIN_PASSWORD`` by ``ADMIN_PASSWORD_HASH``, so only the hash is kept."""
    password = config.pop("ADMIN_PASSWORD", None)
    if password is not None and password != "":
        config["ADMIN_PASSWORD_HASH"] = generate_password_hash(str(password))


def _limiter() -> LoginLimiter:
    limiter: LoginLimiter = current_app.extensions[LIMITER_KEY]
    return limiter


def _is_admin() -> bool:
    return session.get("admin") is True


@bp.get("/")
def index() -> ResponseReturnValue:
    """List every address with a delete button, or ask for the password."""
    if not current_app.config.get("ADMIN_PASSWORD_HASH"):
        abort(403, "The admin page is disabled: set ADMIN_PASSWORD to enable it.")
    if not _is_admin():
        return render_template("mailing_list/admin_login.html")
    subscribers = db.session.scalars(db.select(Subscriber).order_by(Subscriber.email)).all()
    return render_template("mailing_list/admin.html", subscribers=subscribers)


@bp.post("/login")
def login() -> ResponseReturnValue:
    """Check the password in constant time, a limited number of times per client."""
    expected = current_app.config.get("ADMIN_PASSWORD_HASH")
    if not expected:
        abort(403, "The admin page is disabled: set ADMIN_PASSWORD to enable it.")
    client = request.remote_addr or "-"
    wait = _limiter().blocked_for(client)
    if wait > 0:
        raise TooManyRequests(
            f"Too many failed log-ins: try again in {int(wait) + 1} seconds.",
            retry_after=int(wait) + 1,
        )
    if not check_password_hash(expected, request.form.get("password", "")):
        _limiter().failed(client)
        return render_template("mailing_list/admin_login.html", message="Wrong password."), 403
    regenerate_session()
    session["admin"] = True
    return redirect(url_for("admin.index"), 303)


@bp.post("/delete")
def delete() -> ResponseReturnValue:
    """Remove an address from the list."""
    if not _is_admin():
        abort(403, "Log in as the admin first.")
    email = request.form.get("email", "")
    subscriber = db.session.scalar(db.select(Subscriber).filter_by(email=email))
    if subscriber is None:
        flash(f"{email} is not on the list.")
    else:
        db.session.delete(subscriber)
        db.session.commit()
        flash(f"Removed {email}.")
    return redirect(url_for("admin.index"), 303)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """Leave the admin role (the sign-up this browser made is kept)."""
    session.pop("admin", None)
    regenerate_session()
    return redirect(url_for("index"), 303)
