"""The KV protocol, below both the service (``sessionkeeper.kv``) and its client (``HttpStore``).

:mod:`.codec` is the protocol itself (values as JSON, versions as ETags);
:class:`Transport` is the seam a client sends requests through, with
:class:`SocketTransport` (pooled keep-alive sockets, a strict HTTP/1.1 reader) and
:class:`WSGITransport` (a WSGI app called in-process, for tests).
"""

from __future__ import annotations

from .pool import SocketTransport
from .transport import Reply, Transport
from .wsgi import WSGITransport

__all__ = ["Reply", "SocketTransport", "Transport", "WSGITransport"]
