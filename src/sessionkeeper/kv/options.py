"""The token options of the service's commands: ``KV_TOKEN`` or ``--token-file``, never argv."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar

import click

from ..errors import ConfigError
from .tokens import read_secret, secret_file

__all__ = ["TOKEN_ENVVAR", "token_from", "token_options"]

#: The environment variable that carries the service's token.
TOKEN_ENVVAR: Final = "KV_TOKEN"  # noqa: S105 - a variable's name, not a secret
F = TypeVar("F", bound=Callable[..., Any])


def _refuse_argv_token(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        raise click.BadParameter(
            f"a token on the command line is visible to every local user (ps): "
            f"set {TOKEN_ENVVAR} or use --token-file",
            ctx,
            param,
        )


def token_options(help_text: str) -> Callable[[F], F]:
    """Add ``--token-file`` (described by ``help_text``) and refuse the old ``--token``."""

    def decorate(command: F) -> F:
        command = click.option(
            "--token", hidden=True, expose_value=False, callback=_refuse_argv_token
        )(command)
        path = click.Path(dir_okay=False, path_type=Path)
        return click.option("--token-file", type=path, help=help_text)(command)

    return decorate


def token_from(token_file: Path | None, *, create: bool) -> str | None:
    """Return the token from ``KV_TOKEN`` or ``token_file`` (created if ``create``), or None."""
    given = os.environ.get(TOKEN_ENVVAR) or None
    if given is not None and token_file is not None:
        raise click.UsageError(f"give the token once: {TOKEN_ENVVAR} or --token-file, not both")
    if token_file is None:
        return given
    try:
        return secret_file(token_file) if create else read_secret(token_file)
    except (ConfigError, OSError) as exc:
        raise click.BadParameter(str(exc), param_hint="--token-file") from exc
