"""Real server processes for end-to-end tests: the KV service and a small session app.

Each runs in its own process group on 127.0.0.1, so a test can stop it, restart it on
the same port, or freeze it (SIGSTOP reaches Granian's worker too); it is stopped by
its group id at the end.
"""

from __future__ import annotations

import http.client
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from redis_servers import free_port, wait_until

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent


@dataclass
class LiveProcess:
    """A server process answering on ``port`` (HTTPS with ``tls``); ``argv`` may use ``{port}``."""

    argv: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    tls: ssl.SSLContext | None = None

    @property
    def url(self) -> str:
        """The base URL of the server."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def connection(self, timeout: float = 5) -> http.client.HTTPConnection:
        """Open a connection to the server (over TLS with ``tls``)."""
        if self.tls is not None:
            return http.client.HTTPSConnection(
                "127.0.0.1", self.port, timeout=timeout, context=self.tls
            )
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def start(self) -> LiveProcess:
        """Start (or restart, on the same port) and wait until it answers ``/healthz``."""
        self.launch()
        self.wait_ready()
        return self

    def launch(self) -> None:
        """Start the process without waiting for it (start several, then wait for each)."""
        argv = [arg.format(port=self.port) for arg in self.argv]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
                start_new_session=True,
            )

    def wait_ready(self) -> None:
        """Wait until the process answers ``/healthz``."""
        wait_until(self._answers, f"{self.argv[0]} on port {self.port}")

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"{self.argv[0]} exited:\n{self.log.read_text()[-2000:]}")
        connection = self.connection(timeout=1)
        try:
            connection.request("GET", "/healthz")
            with connection.getresponse() as answer:
                answer.read()
                return answer.status == 200
        except OSError:
            return False
        finally:
            connection.close()

    def stop(self) -> None:
        """Stop the process group (resuming it first if it is frozen)."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGCONT)
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        deadline = time.monotonic() + 10
        while _group_alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.01)  # Granian's worker leaves after the main process

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """Suspend the whole process group: connections are accepted, never answered."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            if self.process is not None:
                os.killpg(self.process.pid, signal.SIGCONT)


def descendants(pid: int) -> list[int]:
    """Return ``pid`` and every process below it (children, their children...), alive now."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the process left meanwhile
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        found.append(parent)
        todo.extend(children.get(parent, []))
    return found


def command_line(pid: int) -> str:
    """Return the command line of ``pid`` as every local user can read it ("" once it left)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def kv_service(
    directory: Path,
    store_url: str,
    *options: str,
    env: dict[str, str] | None = None,
    tls: ssl.SSLContext | None = None,
) -> LiveProcess:
    """Return (not yet started) ``sessionkeeper kv serve`` over ``store_url``, with ``options``."""
    directory.mkdir(parents=True, exist_ok=True)
    argv = [str(BIN / "sessionkeeper"), "kv", "serve", "--port", "{port}", "--store", store_url]
    return LiveProcess([*argv, *options], directory / "kv.log", env or {}, tls=tls)


def session_app(directory: Path, store_url: str, secret: str) -> LiveProcess:
    """Return (not yet started) the session app of ``session_app.py`` over ``store_url``."""
    directory.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, str(HERE / "session_app.py"), "{port}"]
    env = {"SESSION_STORE": store_url, "SECRET_KEY": secret}
    return LiveProcess(argv, directory / "app.log", env)
