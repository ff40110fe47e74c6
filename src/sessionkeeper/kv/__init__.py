"""The key-value service: the counter lab's HTTP API over any Store.

``POST /`` sets the keys of a JSON object (or, with a token, form fields),
``GET /<key>`` answers ``{key: value}`` (404 with ``{key: null}`` when missing),
``DELETE /<key>`` answers the old value, and ``GET /?prefix=&limit=&after=``
lists keys a page at a time. Beyond the lab: TTLs (``?ttl=`` or ``KV-TTL``),
ETags with ``If-Match`` / ``If-None-Match: *``, ``PATCH /<key>?ttl=`` to touch,
a bearer token (without one, only this machine's own requests are answered),
size and per-request limits, ``POST /clear-expired``. ``GET /openapi.json``
documents all of it.

``GET /healthz`` and ``GET /openapi.json`` are routes, not keys: keys of those
names (like every key) are read, deleted or touched with ``?key=<key>`` on
``/``, which is what :class:`~sessionkeeper.stores.http.HttpStore` always uses.

``FLASK_APP=sessionkeeper.kv flask run`` finds :func:`create_app` and serves
``kv.sqlite3`` in the working directory for development; ``sessionkeeper kv
serve`` runs it under a production server.
"""

from __future__ import annotations

from .app import create_app
from .ports import PortTaken, check_port_free
from .state import Limits
from .tokens import secret_file

__all__ = ["Limits", "PortTaken", "check_port_free", "create_app", "secret_file"]
