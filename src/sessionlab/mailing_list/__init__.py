"""The mailing list lab: sign up with an address, unregister it, and an admin page.

The session remembers which address this browser signed up with; the
addresses themselves live in the database (``SQLALCHEMY_DATABASE_URI``, by
default ``mailing_list.db`` in the instance folder, created on start).
Addresses are compared without regard to case (``MARGE@…`` is ``marge@…``)
and kept as typed, the domain lower-cased. A browser signs up one address at
a time: to sign up another, it unregisters the first, so none is left behind
out of its reach.

The admin page is enabled by a password: the ``ADMIN_PASSWORD`` (or
``FLASK_ADMIN_PASSWORD``) environment variable, or ``ADMIN_PASSWORD`` in the
config; ``ADMIN_LOGIN_*`` limit its log-ins (see
:mod:`sessionlab.mailing_list.limits`).

From the command line, every form wants its CSRF token and the cookie that
goes with it: fetch the page first, then post the token back with the cookie::

    curl -c jar http://127.0.0.1:5001/ | grep csrf_token
    curl -b jar -c jar -d csrf_token=TOKEN -d email=ned@example.com http://127.0.0.1:5001/signup
    curl -b jar http://127.0.0.1:5001/
    curl -b jar -c jar -d csrf_token=TOKEN http://127.0.0.1:5001/unregister
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Final

from flask import Config, Flask, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError

from sessionkeeper import SessionKeeper

from ..common import create_lab_app
from .admin import LIMITER_KEY, PASSWORD_ENVVAR, bp, hash_admin_password
from .limits import LoginLimiter
from .models import Subscriber, db, find, normalize_email

__all__ = ["PORT", "create_app"]

PORT: Final = 5001
DEFAULTS: Final[Mapping[str, Any]] = {
    "SQLALCHEMY_DATABASE_URI": "sqlite:///mailing_list.db",
    "ADMIN_LOGIN_ATTEMPTS": 5,
    "ADMIN_LOGIN_ADDRESS_ATTEMPTS": 25,
    "ADMIN_LOGIN_WINDOW": 300,
}


def create_app(
    config: Mapping[str, Any] | None = None, *, instance_path: str | os.PathLike[str] | None = None
) -> Flask:
    """Build the mailing list lab and create its table if needed."""
    app = create_lab_app(
        "mailing_list",
        __name__,
        defaults=DEFAULTS,
        config=config,
        instance_path=instance_path,
        adjust=_adjust,
    )
    db.init_app(app)
    app.extensions[LIMITER_KEY] = LoginLimiter(
        SessionKeeper.state(app).store,
        prefix=app.config["SESSION_KEY_PREFIX"].rstrip(":") + "-admin-login:",
        attempts=int(app.config["ADMIN_LOGIN_ATTEMPTS"]),
        address_attempts=int(app.config["ADMIN_LOGIN_ADDRESS_ATTEMPTS"]),
        window=float(app.config["ADMIN_LOGIN_WINDOW"]),
    )
    app.add_url_rule("/", "index", index)
    app.add_url_rule("/signup", "signup", signup, methods=["POST"])
    app.add_url_rule("/unregister", "unregister", unregister, methods=["POST"])
    app.add_url_rule("/emails", "emails", emails)
    app.register_blueprint(bp)
    with app.app_context():
        db.create_all()
    return app


def _adjust(config: Config, explicit: set[str]) -> None:
    given = os.environ.get(PASSWORD_ENVVAR)
    if given and not config.get("ADMIN_PASSWORD") and "ADMIN_PASSWORD_HASH" not in config:
        config["ADMIN_PASSWORD"] = given
    hash_admin_password(config)


def _signed_up() -> str | None:
    email = session.get("email")
    return email if isinstance(email, str) else None


def _form(message: str | None = None, value: str = "", status: int = 200) -> ResponseReturnValue:
    page = render_template("mailing_list/index.html", message=message, value=value)
    return page, status


def index() -> ResponseReturnValue:
    """Show the sign-up form, or thank a browser that signed up and offer to unregister."""
    email = _signed_up()
    if email is None:
        return _form()
    if find(email) is None:  # removed by the admin since
        session.pop("email", None)
        return _form(f"{email} is no longer on the list. Sign up again if you like.", email)
    return render_template("mailing_list/index.html", email=email)


def signup() -> ResponseReturnValue:
    """Add a valid address to the list and remember it in the session."""
    sent = request.form.get("email", "")
    email = normalize_email(sent)
    if email is None:
        message = "Please enter a valid email address, like name@example.com."
        return _form(message, sent[:254], 400)
    remembered = _signed_up()
    if remembered is not None and remembered.lower() != email.lower() and find(remembered):
        message = f"You signed up as {remembered}: unregister it first to sign up another address."
        return _form(message, email, 409)
    entry = find(email)
    if entry is None:
        entry = Subscriber(email=email)
        db.session.add(entry)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()  # the same address was added by a concurrent request
            entry = find(email) or entry
    session["email"] = entry.email
    return redirect(url_for("index"), 303)


def unregister() -> ResponseReturnValue:
    """Remove the address this browser signed up with."""
    email = _signed_up()
    if email is None:
        return _message("You haven't submitted an email!", 400)
    subscriber = find(email)
    session.pop("email", None)
    if subscriber is None:
        return _message("That address isn't on our list", 404)
    db.session.delete(subscriber)
    db.session.commit()
    return _message(f"We have removed {email} from the list!", 200)


def _message(text: str, status: int) -> ResponseReturnValue:
    return render_template("mailing_list/message.html", message=text), status


def emails() -> ResponseReturnValue:
    """List the addresses on the list."""
    subscribers = db.session.scalars(db.select(Subscriber).order_by(Subscriber.email)).all()
    return render_template("mailing_list/emails.html", subscribers=subscribers)
