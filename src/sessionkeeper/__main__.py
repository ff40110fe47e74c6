"""``python -m sessionkeeper``: the same command as the ``sessionkeeper`` script."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    main(prog_name="sessionkeeper")
