"""The mailing list lab: sign up with an address, unregister it, and an admin page.

The session remembers which address this browser signed up with; the
addresses themselves live in the database (``SQLALCHEMY_DATABASE_URI``, by
default ``mailing_list.db`` in the instance folder, created on start).
``ADMIN_PASSWORD`` enables the admin page; ``ADMIN_LOGIN_*`` limit its log-ins
(see :mod:`sessionlab.mailing_list.limits`).
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
from .admin import LIMITER_KEY, bp, hash_admin_password
from .limits import LoginLimiter
from .models import Subscriber, db, normalize_email

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
    hash_admin_password(config)


def _signed_up() -> str | None:
    email = session.get("email")
    return email if isinstance(email, str) else None


def index() -> ResponseReturnValue:
    """Show the sign-up form, or thank a browser that signed up and offer to unregister."""
    return render_template("mailing_list/index.html", email=_signed_up())


def signup() -> ResponseReturnValue:
    """Add a valid address to the list and remember it in the session."""
    email = normalize_email(request.form.get("email", ""))
    if email is None:
        message = "Please enter a valid email address, like name@example.com."
        value = request.form.get("email", "")[:254]
        return render_template("mailing_list/index.html", message=message, value=value), 400
    if db.session.scalar(db.select(Subscriber).filter_by(email=email)) is None:
        db.session.add(Subscriber(email=email))
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()  # the same address was added by a concurrent request
    session["email"] = email
    return redirect(url_for("index"), 303)


def unregister() -> ResponseReturnValue:
    """Remove the address this browser signed up with."""
    email = _signed_up()
    if email is None:
        return _message("You haven't submitted an email!", 400)
    subscriber = db.session.scalar(db.select(Subscriber).filter_by(email=email))
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
