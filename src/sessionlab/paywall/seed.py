"""Seed the paywall's database: ``python -m sessionlab.paywall.seed`` (the course's ``seed.py``).

It seeds the database of the lab's default configuration, as ``flask --app
sessionlab.paywall seed`` does, and says what it did.
"""

from __future__ import annotations

import click
from sqlalchemy.exc import OperationalError

from . import create_app
from .fake import preview_of, seed
from .models import db, location

__all__ = ["main", "preview_of", "seed"]


@click.command(name="python -m sessionlab.paywall.seed")
@click.option("--users", default=25, show_default=True, type=click.IntRange(0))
@click.option("--articles", default=100, show_default=True, type=click.IntRange(0))
@click.option("--random-seed", type=int, default=None, help="Make the fake data reproducible.")
def main(users: int, articles: int, random_seed: int | None) -> None:
    """Replace the users and articles of the lab's database with fake ones."""
    app = create_app()
    with app.app_context():
        where = location(db.engine)
        try:
            seed(users, articles, random_seed=random_seed)
        except OperationalError as exc:
            raise click.ClickException(
                f"the database ({where}) is not ready: run "
                "`flask --app sessionlab.paywall db upgrade` first"
            ) from exc
        finally:
            db.engine.dispose()
    click.echo(f"seeded {users} users and {articles} articles into {where}")


if __name__ == "__main__":
    main()
