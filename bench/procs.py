"""The processes a benchmark run starts: redis-server, KV services and app servers.

Every process is started by this module, pinned to a core with ``taskset``,
logged to a file in the run's work directory, and stopped by its pid.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis

BENCH_DIR = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
#: The core the measured server runs on; the load generator and helpers use the other.
SERVER_CPU = "0"
CLIENT_CPU = "1"
SERVERS = ("granian", "gunicorn")
SERVER_LABELS = {"granian": "granian 1 worker", "gunicorn": "gunicorn 2 sync workers"}


def free_port() -> int:
    """Return a loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Proc:
    """A started process, its port and its log file."""

    name: str
    popen: subprocess.Popen[bytes]
    port: int
    log: Path

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL after 10 s) by its pid."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)

    def tail(self) -> str:
        """The end of its log, to explain a failure."""
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return ""


def start(
    name: str,
    argv: list[str],
    *,
    port: int,
    workdir: Path,
    cpu: str | None,
    env: dict[str, str] | None = None,
) -> Proc:
    """Start ``argv`` pinned to ``cpu`` (``taskset`` execs it, so the pid is the program's)."""
    log = workdir / f"{name}.log"
    command = ["taskset", "-c", cpu, *argv] if cpu is not None else argv
    with log.open("wb") as out:
        popen = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=workdir,
        )
    return Proc(name, popen, port, log)


def wait_until(proc: Proc, ready: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll ``ready`` until it holds; fail with the process's log if it dies or times out."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")
        try:
            if ready():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{proc.name} did not start in {timeout:g}s:\n{proc.tail()}")
        time.sleep(0.05)


def http_ok(port: int, path: str) -> Callable[[], bool]:
    """A readiness check: ``GET path`` answers below 500."""

    def check() -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", path)
            return conn.getresponse().status < 500
        finally:
            conn.close()

    return check


def start_redis(workdir: Path, cpu: str | None = CLIENT_CPU) -> Proc:
    """Start a private redis-server on loopback: no persistence, 64 databases."""
    port = free_port()
    data = workdir / "redis"
    data.mkdir(exist_ok=True)
    argv = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
    argv += ["--appendonly", "no", "--dir", str(data), "--databases", "64"]
    proc = start("redis", argv, port=port, workdir=workdir, cpu=cpu)

    def ping() -> bool:
        with redis.Redis(port=port, socket_timeout=1) as client:
            return bool(client.ping())

    wait_until(proc, ping)
    return proc


def start_kv(name: str, db: Path, workdir: Path, cpu: str | None) -> Proc:
    """Start ``sessionkeeper kv serve`` on a SQLite file (its production server, Granian)."""
    port = free_port()
    argv = [str(BIN / "sessionkeeper"), "kv", "serve", "--port", str(port)]
    argv += ["--store", f"sqlite:///{db}"]
    proc = start(name, argv, port=port, workdir=workdir, cpu=cpu)
    wait_until(proc, http_ok(port, "/healthz"))
    return proc


def app_argv(server: str, port: int) -> list[str]:
    """The command line serving ``bench/app.py`` under ``server``."""
    if server == "granian":
        return [
            str(BIN / "granian"),
            *("--interface", "wsgi", "--factory", "--workers", "1"),
            *("--host", "127.0.0.1", "--port", str(port)),
            *("--working-dir", str(BENCH_DIR), "--log-level", "error"),
            "app:create_app",
        ]
    return [
        str(BIN / "gunicorn"),
        *("--workers", "2", "--worker-class", "sync", "--bind", f"127.0.0.1:{port}"),
        *("--chdir", str(BENCH_DIR), "--log-level", "warning"),
        "app:create_app()",
    ]


def start_app(server: str, variant: str, url: str, workdir: Path) -> Proc:
    """Start the benchmark app for ``variant`` under ``server``, pinned to the server core."""
    port = free_port()
    env = {"BENCH_VARIANT": variant, "BENCH_URL": url}
    proc = start(
        f"{server}-{variant}",
        app_argv(server, port),
        port=port,
        workdir=workdir,
        cpu=SERVER_CPU,
        env=env,
    )
    return proc


def wait_app(proc: Proc) -> None:
    """Wait until an app server answers ``/ping``."""
    wait_until(proc, http_ok(proc.port, "/ping"), timeout=60)


def pin(pid: int, cpu: str) -> None:
    """Move every thread of a running process to ``cpu``."""
    subprocess.run(["taskset", "-a", "-p", "-c", cpu, str(pid)], check=True, capture_output=True)


def _tree(pid: int) -> list[int]:
    """``pid`` and every live descendant (gunicorn's and Granian's workers)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except FileNotFoundError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{current}/task/{tid}/children") as f:
                    todo.extend(int(child) for child in f.read().split())
            except FileNotFoundError:
                pass
    return found


def cpu_seconds(pid: int) -> float:
    """CPU time the process tree of ``pid`` has spent so far, every thread, in seconds.

    Read from ``schedstat`` (nanoseconds on the CPU), so the figure is exact at
    any run length, unlike the 10 ms ticks of ``stat``. Other jobs on the machine
    slow a run down but add nothing here: compare CPU per request, not req/s.
    """
    total = 0
    for process in _tree(pid):
        try:
            tasks = os.listdir(f"/proc/{process}/task")
        except FileNotFoundError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{process}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except (FileNotFoundError, ProcessLookupError):
                pass
    return total / 1e9
