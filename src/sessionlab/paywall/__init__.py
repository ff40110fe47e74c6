"""The paywall lab (port 5555): blog articles, three free views per session.

``GET /articles`` lists every article; ``GET /articles/<id>`` counts
``session["page_views"]``, answers the article with ``views_left`` (the free
views this session has left), and 401 past three; ``GET /clear`` resets the
count. Errors are JSON, but for a browser asking for a page (a mistyped URL).
``flask --app sessionlab.paywall db upgrade`` migrates the database
(``SQLALCHEMY_DATABASE_URI``, by default ``paywall.db`` in the instance folder)
and ``flask --app sessionlab.paywall seed`` (or ``python -m sessionlab.paywall.seed``)
fills it. ``/`` serves the built
React client: the package's own ``client`` folder (built by ``make client``, and
shipped in the wheel), or the folder ``PAYWALL_CLIENT_DIR`` names, a relative
one taken from the instance folder. Without a built client it serves a page
linking the API and saying how to build the client.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import click
from flask import (
    Flask,
    abort,
    current_app,
    jsonify,
    render_template_string,
    send_from_directory,
    session,
)
from flask.cli import with_appcontext
from flask.typing import ResponseReturnValue
from flask_migrate import Migrate, upgrade
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from sessionkeeper import locked

from ..common import create_lab_app
from ..inspector import PLACEHOLDER
from .models import Article, db, location

__all__ = ["CLIENT", "FREE_VIEWS", "MIGRATIONS", "PORT", "create_app", "prepare_database"]

PORT: Final = 5555
FREE_VIEWS: Final = 3
MIGRATIONS: Final = str(Path(__file__).with_name("migrations"))
#: The built React client, package data of this lab (git-ignored; ``make client`` writes it).
CLIENT: Final = Path(__file__).with_name("client")
DEFAULTS: Final[Mapping[str, Any]] = {
    "SQLALCHEMY_DATABASE_URI": "sqlite:///paywall.db",
    "PAYWALL_CLIENT_DIR": None,  # the packaged CLIENT
    "SESSIONLAB_JSON_ERRORS": True,
}


def create_app(
    config: Mapping[str, Any] | None = None, *, instance_path: str | os.PathLike[str] | None = None
) -> Flask:
    """Build the paywall lab; ``config`` overrides the defaults and ``FLASK_*`` variables."""
    app = create_lab_app(
        "paywall", __name__, defaults=DEFAULTS, config=config, instance_path=instance_path
    )
    db.init_app(app)
    Migrate(app, db, directory=MIGRATIONS)
    app.add_url_rule("/articles", "articles", articles)
    app.add_url_rule("/articles/<int(max=9223372036854775807):id>", "article", article)
    app.add_url_rule("/clear", "clear", clear)
    app.add_url_rule("/", "index", client_file)
    app.add_url_rule("/<path:filename>", "client_file", client_file)
    app.register_error_handler(OperationalError, _database_error)
    app.cli.add_command(seed_command)
    return app


def prepare_database(app: Flask, *, random_seed: int | None = None) -> None:
    """Apply the migrations, and seed the database if it has no articles yet."""
    from .fake import seed

    with app.app_context():
        upgrade(directory=MIGRATIONS)
        if not db.session.scalar(select(func.count()).select_from(Article)):
            seed(random_seed=random_seed)
        db.engine.dispose()  # no connections carried into server processes


@click.command("seed")
@click.option("--users", default=25, show_default=True, type=click.IntRange(0))
@click.option("--articles", default=100, show_default=True, type=click.IntRange(0))
@click.option("--random-seed", type=int, default=None, help="Make the fake data reproducible.")
@with_appcontext
def seed_command(users: int, articles: int, random_seed: int | None) -> None:
    """Replace the users and articles with fake ones."""
    from .fake import seed

    seed(users, articles, random_seed=random_seed)
    where = location(db.engine)
    click.echo(f"seeded {users} users and {articles} articles into {where}")


def articles() -> ResponseReturnValue:
    """Every article, as a JSON list."""
    rows = db.session.scalars(select(Article).order_by(Article.id)).all()
    return jsonify([row.to_dict() for row in rows])


@locked
def article(id: int) -> ResponseReturnValue:
    """One article, counted as a page view; past the free views, a 401."""
    found = db.session.get(Article, id)
    if found is None:
        abort(404, f"Article {id} not found.")
    views = session.get("page_views")
    views = views if isinstance(views, int) and not isinstance(views, bool) else 0
    session["page_views"] = views = views + 1
    if views > FREE_VIEWS:
        return {"message": "Maximum pageview limit reached"}, 401
    return {**found.to_dict(), "views_left": FREE_VIEWS - views}, 200


def clear() -> ResponseReturnValue:
    """Set the page view count back to zero."""
    session["page_views"] = 0
    return {"message": "200: Successfully cleared session data."}, 200


def client_file(filename: str = "index.html") -> ResponseReturnValue:
    """Serve the built React client, or a small page linking the API when it is not built."""
    setting = current_app.config["PAYWALL_CLIENT_DIR"]
    folder = Path(current_app.instance_path, setting) if setting else CLIENT
    if (folder / "index.html").is_file():
        if filename == "index.html":
            return _client_page(folder / "index.html")
        return send_from_directory(folder, filename)
    if filename != "index.html":
        abort(404)
    return render_template_string(_NOT_BUILT, free_views=FREE_VIEWS)


def _client_page(path: Path) -> ResponseReturnValue:
    """Serve the client's page with the way back to the demo and the session inspector."""
    page = path.read_text(encoding="utf-8")
    home = current_app.config["SESSIONLAB_HOME"]
    if home and "<body>" in page:
        nav = Markup(_HOME_LINK).format(home)  # noqa: S704 - a constant; home is escaped
        page = page.replace("<body>", f"<body>\n{nav}", 1)
    if current_app.config["SESSIONLAB_INSPECTOR"] and "</body>" in page:
        page = page.replace("</body>", f"{PLACEHOLDER.decode()}\n</body>", 1)
    return page, 200, {"Content-Type": "text/html; charset=utf-8"}


_HOME_LINK: Final = (
    '<nav class="home" style="font: 14px system-ui, sans-serif; margin: .5rem 1rem">'
    '<a href="{}" data-home>← All labs</a></nav>'
)
# The lab's page, and how to build the client from a checkout of the project.
_NOT_BUILT: Final = """{% extends "paywall/index.html" %}{% block content %}{{ super() }}
<p>To build it, run <code>make client</code> in a checkout of the project (or
<code>npm ci &amp;&amp; npm run build</code> in its <code>client/</code> folder), then restart.</p>
{% endblock %}"""


def _database_error(exc: OperationalError) -> ResponseReturnValue:
    current_app.logger.error("paywall database error: %s", exc)
    message = (
        "The articles database is not ready: run `flask --app sessionlab.paywall db upgrade` "
        "and `flask --app sessionlab.paywall seed`."
    )
    return {"error": "Service Unavailable", "message": message, "status": 503}, 503
