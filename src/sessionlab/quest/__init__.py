"""The quest lab (port 5006): a text adventure whose game state lives in the session.

``/`` and ``/new/`` offer a new game or to continue one (field ``neworcontinue``);
``/status/`` shows the game and takes a move (field ``playermove``). Winning or
losing ends the session. Any input gets a message or a redirect, never an error.

From the command line, each form wants its CSRF token and the cookie that goes
with it: GET the page, then POST the token back with the cookie::

    curl -c jar http://127.0.0.1:5006/ | grep csrf_token
    curl -L -b jar -c jar -d csrf_token=TOKEN -d neworcontinue=newgame http://127.0.0.1:5006/new/
    curl -L -b jar -c jar -d csrf_token=TOKEN -d "playermove=go east" http://127.0.0.1:5006/status/
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Final

from flask import Flask, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from ..common import create_lab_app, destroy_session
from .world import ROOMS, Game

__all__ = ["PORT", "create_app"]

PORT: Final = 5006
GAME_KEY: Final = "quest"


def create_app(
    config: Mapping[str, Any] | None = None, *, instance_path: str | os.PathLike[str] | None = None
) -> Flask:
    """Build the quest lab; ``config`` overrides the defaults and ``FLASK_*`` variables."""
    app = create_lab_app("quest", __name__, config=config, instance_path=instance_path)
    app.add_url_rule("/", "index", start, methods=["GET", "POST"])
    app.add_url_rule("/new/", "new", start, methods=["GET", "POST"])
    app.add_url_rule("/status/", "status", status, methods=["GET", "POST"])
    return app


def current_game() -> Game | None:
    """The game in this session, if there is one."""
    return Game.from_dict(session.get(GAME_KEY))


def start() -> ResponseReturnValue:
    """Offer a new game or to continue; on POST, start or resume and go to the game."""
    game = current_game()
    if request.method == "GET":
        return render_template("quest/start.html", has_game=game is not None)
    choice = request.form.get("neworcontinue")
    if choice == "newgame":
        session[GAME_KEY] = Game().to_dict()
        return redirect(url_for("status"), 303)
    if choice == "continuegame":
        if game is not None:
            return redirect(url_for("status"), 303)
        message = "There is no game to continue: start a new one."
        return render_template("quest/start.html", has_game=False, message=message)
    message = "Choose a new game or to continue."
    return render_template("quest/start.html", has_game=game is not None, message=message), 400


def status() -> ResponseReturnValue:
    """Show the game; on POST, play the move in ``playermove``."""
    game = current_game()
    if game is None:
        return redirect(url_for("new"), 303)
    if request.method == "GET":
        return render_template("quest/status.html", game=game, room=ROOMS[game.room])
    outcome = game.play(request.form.get("playermove", ""))
    if outcome == "playing":
        session[GAME_KEY] = game.to_dict()
        return redirect(url_for("status"), 303)
    destroy_session()
    return render_template("quest/end.html", game=game, won=outcome == "won")
