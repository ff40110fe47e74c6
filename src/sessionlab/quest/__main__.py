"""Run the quest lab: ``python -m sessionlab.quest [--port 5006]``."""

from __future__ import annotations

from ..serve import lab_command
from . import PORT

if __name__ == "__main__":
    lab_command("sessionlab.quest", PORT)()
