"""The mailing list's table, and the address check applied before anything is stored."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Index, String, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Subscriber", "db", "find", "normalize_email"]

_LOCAL: Final = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_DOMAIN: Final = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")
MAX_EMAIL_LENGTH: Final = 254


class Base(DeclarativeBase):
    """The declarative base of this lab's models."""


db = SQLAlchemy(model_class=Base)


class Subscriber(Base):
    """One address on the list."""

    __tablename__ = "subscriber"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(MAX_EMAIL_LENGTH), unique=True)
    created: Mapped[datetime] = mapped_column(default=lambda: datetime.now(UTC))


# One entry per address whatever its case (in tables created from this version on).
Index("uq_subscriber_email_lower", func.lower(Subscriber.email), unique=True)


def find(email: str) -> Subscriber | None:
    """The entry of ``email`` on the list, whatever the case it was typed in."""
    query = db.select(Subscriber).where(func.lower(Subscriber.email) == email.lower())
    return db.session.scalars(query).first()


def normalize_email(value: str) -> str | None:
    """The address in canonical form (domain lower-cased), or None if it is not one.

    Deliberately plain: a dotted ``local@domain.tld`` of the usual characters,
    no quoted local parts or IP literals.
    """
    value = value.strip()
    local, at, domain = value.rpartition("@")
    if (
        not at
        or len(value) > MAX_EMAIL_LENGTH
        or len(local) > 64
        or not _LOCAL.fullmatch(local)
        or not _DOMAIN.fullmatch(domain)
    ):
        return None
    return f"{local}@{domain.lower()}"
