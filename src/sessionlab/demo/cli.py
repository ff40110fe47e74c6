"""``sessionkeeper demo``: the command this package adds to the ``sessionkeeper`` script.

It is registered through the ``sessionkeeper.commands`` entry point, so the
library never imports the labs.
"""

from __future__ import annotations

import click

from .runner import DOCS_PATH_ENVVAR, run
from .site import DOCS_PATH

__all__ = ["demo"]


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), help="Port of the site [default: 8000].")
@click.option(
    "--kv-port", type=click.IntRange(1, 65535), help="Port of the service [default: 5100]."
)
@click.option("--instance-path", type=click.Path(file_okay=False), help="Where the data is kept.")
@click.option(
    "--docs-path",
    type=click.Path(file_okay=False),
    envvar=DOCS_PATH_ENVVAR,
    show_envvar=True,
    help=f"The built documentation served at /docs/ [default: ./{DOCS_PATH.as_posix()}].",
)
def demo(
    port: int | None, kv_port: int | None, instance_path: str | None, docs_path: str | None
) -> None:
    """Run the demo site (every lab) and the key-value service it keeps sessions in.

    Busy default ports are replaced by free ones; Ctrl-C stops both. The data is
    kept in --instance-path, else in ./instance/demo ($SESSIONLAB_INSTANCE_PATH/demo),
    with the service's token (kv-token) and the admin password (admin-password),
    both made on first start and readable by their owner only. The site serves
    at /docs/ the documentation that make docs builds (run from the repository's root).
    """
    code = run(port=port, kv_port=kv_port, instance_path=instance_path, docs_path=docs_path)
    raise SystemExit(code)
