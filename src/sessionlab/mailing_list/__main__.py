"""Run the mailing list lab: ``python -m sessionlab.mailing_list [--port 5001]``."""

from __future__ import annotations

from ..serve import lab_command
from . import PORT

if __name__ == "__main__":
    lab_command("sessionlab.mailing_list", PORT)()
