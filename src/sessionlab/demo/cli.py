"""``sessionkeeper demo``: the command this package adds to the ``sessionkeeper`` script.

It is registered through the ``sessionkeeper.commands`` entry point, so the
library never imports the labs.
"""

from __future__ import annotations

import click

from .runner import run

__all__ = ["demo"]


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), help="Port of the site [default: 8000].")
@click.option(
    "--kv-port", type=click.IntRange(1, 65535), help="Port of the service [default: 5100]."
)
@click.option("--instance-path", type=click.Path(file_okay=False), help="Where the data is kept.")
def demo(port: int | None, kv_port: int | None, instance_path: str | None) -> None:
    """Run the demo site (every lab) and the key-value service it keeps sessions in.

    Busy default ports are replaced by free ones; Ctrl-C stops both. The data is
    kept in --instance-path, else in ./instance/demo ($SESSIONLAB_INSTANCE_PATH/demo),
    with the service's token (kv-token) and the admin password (admin-password),
    both made on first start and readable by their owner only.
    """
    raise SystemExit(run(port=port, kv_port=kv_port, instance_path=instance_path))
