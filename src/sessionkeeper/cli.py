"""The ``sessionkeeper`` command: a Click group; subcommands live beside what they run."""

from __future__ import annotations

import click

__all__ = ["main"]


@click.group()
@click.version_option(package_name="sessionkeeper")
def main() -> None:
    """SessionKeeper: sessions for Flask, and the key-value service."""
