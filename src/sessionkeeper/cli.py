"""The ``sessionkeeper`` command: a Click group; subcommands live beside what they run."""

from __future__ import annotations

import click

from .kv.cli import dump, kv

__all__ = ["main"]


@click.group()
@click.version_option(package_name="sessionkeeper")
def main() -> None:
    """SessionKeeper: sessions for Flask, and the key-value service."""


main.add_command(kv)
main.add_command(dump)


@main.command()
@click.option("--port", type=click.IntRange(1, 65535), help="Port of the site [default: 8000].")
@click.option(
    "--kv-port", type=click.IntRange(1, 65535), help="Port of the service [default: 5100]."
)
@click.option("--instance-path", type=click.Path(file_okay=False), help="Where the data is kept.")
def demo(port: int | None, kv_port: int | None, instance_path: str | None) -> None:
    """Run the demo site (every lab) and the key-value service it keeps sessions in.

    Busy default ports are replaced by free ones; Ctrl-C stops both.
    """
    from sessionlab.demo import run  # the labs are optional: import them only when asked

    raise SystemExit(run(port=port, kv_port=kv_port, instance_path=instance_path))
