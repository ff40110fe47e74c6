"""Run the counter lab: ``APP_CONFIG=counter.cfg python -m sessionlab.counter [--port 5000]``."""

from __future__ import annotations

from ..serve import lab_command
from . import PORT

if __name__ == "__main__":
    lab_command("sessionlab.counter", PORT)()
