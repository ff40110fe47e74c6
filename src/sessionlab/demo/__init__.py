"""The demo site: every lab under its own prefix, an index, and the live sessions.

:func:`run` (``sessionkeeper demo``, ``make demo``) starts the key-value
service on its embedded SQLite store and the site under gunicorn, both keeping
their data in one instance folder, and stops both on Ctrl-C.
"""

from __future__ import annotations

from .runner import free_port, run
from .site import LABS, Lab, create_site

__all__ = ["LABS", "Lab", "create_site", "free_port", "run"]
