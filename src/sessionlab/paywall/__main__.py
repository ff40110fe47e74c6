"""Run the paywall lab: ``python -m sessionlab.paywall [--port 5555]``.

The database is migrated, and seeded when empty, before the server starts.
"""

from __future__ import annotations

from ..serve import lab_command
from . import PORT, create_app, prepare_database

if __name__ == "__main__":
    lab_command("sessionlab.paywall", PORT, lambda: prepare_database(create_app()))()
