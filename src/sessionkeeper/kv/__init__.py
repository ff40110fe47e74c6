"""The key-value service: the counter lab's HTTP API over any Store.

``POST /`` sets the keys of a JSON object (or form fields), ``GET /<key>``
answers ``{key: value}`` (404 with ``{key: null}`` when missing), ``DELETE
/<key>`` answers the old value, and ``GET /?prefix=&limit=&after=`` lists keys.
Beyond the lab: TTLs (``?ttl=`` or ``KV-TTL``), ETags with ``If-Match`` /
``If-None-Match: *``, ``PATCH /<key>?ttl=`` to touch, a bearer token, size
limits, ``POST /clear-expired``. ``GET /openapi.json`` documents all of it.

``GET /healthz`` and ``GET /openapi.json`` are routes, not keys: keys of those
names (like every key) are read, deleted or touched with ``?key=<key>`` on
``/``, which is what :class:`~sessionkeeper.stores.http.HttpStore` always uses.

``FLASK_APP=sessionkeeper.kv flask run`` finds :func:`create_app` and serves
``kv.sqlite3`` in the working directory for development; ``sessionkeeper kv
serve`` runs it under a production server.
"""

from __future__ import annotations

from .app import create_app
from .state import Limits

__all__ = ["Limits", "create_app"]
