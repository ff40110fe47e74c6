"""Check that a port is free before a server starts on it, and say so in one line if not.

Granian binds with ``SO_REUSEPORT``: a second service on a busy port would start
and silently share the traffic (and split the data), and on a port another
program holds it fails with a long traceback. A probe bind without
``SO_REUSEPORT`` fails in both cases, and a connection attempt catches a server
whose socket the probe could still share.
"""

from __future__ import annotations

import errno
import socket
from typing import Final

from ..errors import ConfigError

__all__ = ["PortTaken", "check_port_free"]

#: How long the probe waits for a connection to an address that may answer.
CONNECT_TIMEOUT: Final = 0.5


class PortTaken(ConfigError):
    """The port a server was to listen on is taken: by another program, or by the same server."""


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _probe_address(host: str) -> str:
    """The address to connect to for ``host``: the loopback address for a wildcard."""
    bare = host.strip("[]")
    if bare in ("", "0.0.0.0", "::"):  # noqa: S104 - compared, not bound
        return "::1" if bare == "::" else "127.0.0.1"
    return bare


def check_port_free(host: str, port: int, what: str = "the service") -> None:
    """Raise :class:`PortTaken` if ``host:port`` is taken or something answers there.

    Port 0 (any free port) is never taken. The probe's socket is closed before
    returning; what binds next is the server's own.
    """
    if port == 0:
        return
    bare = host.strip("[]")
    taken = f"cannot start {what} on {host}:{port}:"
    with socket.socket(_family(bare), socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR passes over connections of a stopped server left in TIME_WAIT, but
        # never over a listening socket; without SO_REUSEPORT no listener can be shared.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((bare, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortTaken(f"{taken} the port is in use by another program") from exc
            raise ConfigError(f"{taken} {exc.strerror or exc}") from exc
    target = _probe_address(bare)
    with socket.socket(_family(target), socket.SOCK_STREAM) as client:
        client.settimeout(CONNECT_TIMEOUT)
        if client.connect_ex((target, port)) == 0:
            raise PortTaken(f"{taken} another server already answers there")
