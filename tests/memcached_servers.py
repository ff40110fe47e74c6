"""A real memcached for the tests, started on 127.0.0.1 and stopped by pid.

``memcached_server`` is one server for the session, started the first time a test
asks; tests isolate themselves with a key prefix of their own
(:meth:`MemcachedServer.fresh_prefix`), since memcached has one key space.
Without ``memcached`` the fixture skips, or fails when ``CI=true``.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from redis_servers import free_port, wait_until
from sql_servers import find


@dataclass
class MemcachedServer:
    """A memcached process of our own."""

    port: int
    process: subprocess.Popen[bytes]
    _prefixes: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        """The ``memcached://`` URL of the server."""
        return f"memcached://127.0.0.1:{self.port}"

    def fresh_prefix(self) -> str:
        """A key prefix no other test of this session has used."""
        return f"t{next(self._prefixes)}:"

    def stop(self) -> None:
        """Stop the server by its pid: it keeps nothing to flush."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


@pytest.fixture(scope="session")
def memcached_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MemcachedServer]:
    """One memcached (64 MB, TCP only) for the whole session."""
    binary = find("memcached", "memcached")
    port = free_port()
    log = Path(tmp_path_factory.mktemp("memcached")) / "memcached.log"
    command = [binary, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "64", "-c", "1024"]
    if os.geteuid() == 0:
        command += ["-u", "nobody"]  # memcached will not run as root
    with open(log, "ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    server = MemcachedServer(port, process)

    def answers() -> bool:
        if process.poll() is not None:
            pytest.fail(f"memcached exited:\n{log.read_text(errors='replace')}", pytrace=False)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"version\r\n")
                return sock.recv(64).startswith(b"VERSION")
        except OSError:
            return False

    try:
        wait_until(answers, f"memcached on port {port}")
        yield server
    finally:
        server.stop()
