"""The mailing list's admin pages: one password from config, kept only as a hash.

Log-in attempts are limited (``ADMIN_LOGIN_ATTEMPTS`` per browser and
``ADMIN_LOGIN_ADDRESS_ATTEMPTS`` per client address, per ``ADMIN_LOGIN_WINDOW``
seconds) by a :class:`~sessionlab.mailing_list.limits.LoginLimiter` that every
worker on the session store shares; an attempt is reserved before the password
is checked.
"""

from __future__ import annotations

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

from .. import csrf
from ..common import regenerate_session
from .limits import LoginLimiter
from .models import Subscriber, db, find

__all__ = ["DISABLED", "LIMITER_KEY", "PASSWORD_ENVVAR", "bp", "hash_admin_password"]

bp = Blueprint("admin", __name__, url_prefix="/admin")
LIMITER_KEY = "sessionlab.admin_limiter"
#: The environment variable read for the password (``FLASK_ADMIN_PASSWORD`` works too).
PASSWORD_ENVVAR = "ADMIN_PASSWORD"  # noqa: S105 - a variable's name
DISABLED = (
    "The admin page is disabled: start the lab with the environment variable "
    "ADMIN_PASSWORD (or FLASK_ADMIN_PASSWORD) set to a password, or set ADMIN_PASSWORD "
    "in the app's config."
)


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
        abort(403, DISABLED)
    if not _is_admin():
        return render_template("mailing_list/admin_login.html")
    subscribers = db.session.scalars(db.select(Subscriber).order_by(Subscriber.email)).all()
    return render_template("mailing_list/admin.html", subscribers=subscribers)


@bp.post("/login")
def login() -> ResponseReturnValue:
    """Check the password, once a slot for this attempt is reserved for browser and address."""
    expected = current_app.config.get("ADMIN_PASSWORD_HASH")
    if not expected:
        abort(403, DISABLED)
    browser = csrf.browser_key()
    if browser is None:  # the CSRF check lets no form POST through without the cookie
        abort(400, csrf.FORM_REFUSED)
    slots = _limiter().slots(request.remote_addr or "-", browser)
    wait = _limiter().reserve(slots)
    if wait > 0:
        raise TooManyRequests(
            f"Too many log-in attempts: try again in {int(wait) + 1} seconds.",
            retry_after=int(wait) + 1,
        )
    if not check_password_hash(expected, request.form.get("password", "")):
        return render_template("mailing_list/admin_login.html", message="Wrong password."), 403
    _limiter().release(slots)
    regenerate_session()
    session["admin"] = True
    return redirect(url_for("admin.index"), 303)


@bp.post("/delete")
def delete() -> ResponseReturnValue:
    """Remove an address from the list."""
    if not _is_admin():
        abort(403, "Log in as the admin first.")
    email = request.form.get("email", "").strip()
    subscriber = find(email) if email else None
    if not email:
        flash("Give the address to delete.")
    elif subscriber is None:
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
