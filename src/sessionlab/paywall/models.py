"""The paywall's blog: users and their articles, with Flask-SQLAlchemy."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Engine, ForeignKey, String, Text, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = ["Article", "User", "db", "location"]


class Base(DeclarativeBase):
    """The declarative base of this lab's models."""


db = SQLAlchemy(model_class=Base)


class User(Base):
    """An author of articles."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    articles: Mapped[list[Article]] = relationship(back_populates="user")

    def to_dict(self) -> dict[str, Any]:
        """The user as the API shows it."""
        return {"id": self.id, "name": self.name}


class Article(Base):
    """A blog article, with the preview shown before the paywall."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    author: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    preview: Mapped[str] = mapped_column(String(100))
    minutes_to_read: Mapped[int]
    date: Mapped[datetime] = mapped_column(server_default=func.now())
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    user: Mapped[User | None] = relationship(back_populates="articles")

    def to_dict(self) -> dict[str, Any]:
        """The article as the API shows it, with its user."""
        return {
            "author": self.author,
            "content": self.content,
            "date": f"{self.date:%Y-%m-%d %H:%M:%S}",
            "id": self.id,
            "minutes_to_read": self.minutes_to_read,
            "preview": self.preview,
            "title": self.title,
            "user": self.user.to_dict() if self.user is not None else None,
            "user_id": self.user_id,
        }


def location(engine: Engine) -> str:
    """Name a database for messages: a SQLite file relative to the working directory if under it."""
    url = engine.url
    if not url.database or url.get_backend_name() != "sqlite":
        return url.render_as_string(hide_password=True)
    path = os.path.abspath(url.database)
    inside = os.path.commonpath([path, os.getcwd()]) == os.getcwd()
    return os.path.relpath(path) if inside else path
