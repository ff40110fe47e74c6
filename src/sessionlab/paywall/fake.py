"""Fake users and articles for the paywall's database (Faker)."""

from __future__ import annotations

import random

from faker import Faker
from sqlalchemy import delete

from .models import Article, User, db

__all__ = ["preview_of", "seed"]

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
