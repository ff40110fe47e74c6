"""Secrets kept in files: the service's token, read from a file or created there on first start.

A secret never travels on a command line, where ``ps`` shows it to every local
user: the service reads its token from ``KV_TOKEN`` or from a file, and
:func:`secret_file` creates such a file readable by its owner only from its
first byte on (``O_CREAT | O_EXCL`` with mode 0600, never a chmod after the write).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from ..errors import ConfigError

__all__ = ["new_token", "read_secret", "secret_file"]


def new_token() -> str:
    """Return a random token (256 bits, URL-safe text)."""
    return secrets.token_urlsafe(32)


def read_secret(path: str | os.PathLike[str]) -> str:
    """Return the secret in the file ``path`` (surrounding whitespace removed).

    A missing, unreadable or empty file raises :class:`~sessionkeeper.errors.ConfigError`.
    """
    try:
        secret = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the secret file {os.fspath(path)}: {exc}") from exc
    if not secret:
        raise ConfigError(f"the secret file {os.fspath(path)} is empty")
    return secret


def secret_file(path: str | os.PathLike[str], new: Callable[[], str] = new_token) -> str:
    """Return the secret kept in ``path``, first creating it with ``new()`` if it is missing.

    The file is written under a temporary name created with mode 0600 and then
    linked into place, so processes starting together all read the same
    complete secret, and no moment exists when another user could read it.
    """
    target = Path(path)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        draft = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(new() + "\n")
            os.link(draft, target)
        except FileExistsError:
            pass  # another process won the race; its secret is the one to use
        finally:
            draft.unlink()
    return read_secret(target)
