"""Fill the paywall's database with fake users and articles (Faker).

``python -m sessionlab.paywall.seed`` (the course's ``python seed.py``) seeds
the database of the lab's default configuration, as ``flask --app
sessionlab.paywall seed`` does, and says what it did.
"""

from __future__ import annotations

import random

import click
from faker import Faker
from sqlalchemy import delete
from sqlalchemy.exc import OperationalError

from .models import Article, User, db, location

__all__ = ["main", "preview_of", "seed"]

PREVIEW_LENGTH = 25


def preview_of(content: str) -> str:
    """The preview shown before the paywall: the first 25 characters and an ellipsis."""
    return content[:PREVIEW_LENGTH] + "..."


def seed(users: int = 25, articles: int = 100, *, random_seed: int | None = None) -> None:
    """Replace every user and article by fake ones; call inside an app context."""
    fake = Faker()
    rng = random.Random(random_seed)
    if random_seed is not None:
        fake.seed_instance(random_seed)
    db.session.execute(delete(Article))
    db.session.execute(delete(User))
    authors = [User(name=fake.name()) for _ in range(users)]
    db.session.add_all(authors)
    for _ in range(articles):
        content = fake.paragraph(nb_sentences=8)
        db.session.add(
            Article(
                author=fake.name(),
                title=fake.sentence(),
                content=content,
                preview=preview_of(content),
                minutes_to_read=rng.randint(1, 20),
                user=rng.choice(authors) if authors else None,
            )
        )
    db.session.commit()


@click.command(name="python -m sessionlab.paywall.seed")
@click.option("--users", default=25, show_default=True, type=click.IntRange(0))
@click.option("--articles", default=100, show_default=True, type=click.IntRange(0))
@click.option("--random-seed", type=int, default=None, help="Make the fake data reproducible.")
def main(users: int, articles: int, random_seed: int | None) -> None:
    """Replace the users and articles of the lab's database with fake ones."""
    from . import create_app

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
