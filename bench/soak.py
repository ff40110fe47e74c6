"""Soak SessionKeeper's server stores while the store, or one app server, is killed -9.

Run ``.venv/bin/python bench/soak.py [--seconds 60] [--only redis|kv|sqlite]``. Each
scenario starts one store and two app servers (gunicorn, 2 sync workers each, this
module's :func:`create_app`) on free loopback ports, and 16 client threads that
write and read 200 sessions, each thread owning its own sessions. A write sets a
distinct key (``session["k<n>"] = n``); its 200 means SessionKeeper saved it, so
every acknowledged write is recorded with its session cookie. Midway the store
(``redis``, ``kv``) or one app server with its workers (``sqlite``) is killed with
SIGKILL and restarted on the same port and data. At the end every session is read
back and the acknowledged writes that are missing are counted.

Every process is started here, on 127.0.0.1, and stopped by its pid at the end,
also on Ctrl-C. The tables are printed and written to
``bench/results/soak-<date>.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import random
import shlex
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from importlib import metadata
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request, session

SCENARIOS = ("redis", "kv", "sqlite")
KILLED = {
    "redis": "redis-server (appendonly yes, appendfsync always)",
    "kv": "sessionkeeper kv serve on SQLite (main process and worker)",
    "sqlite": "app server A (gunicorn master and both workers); SQLite file shared by A and B",
}
APPS = ("A", "B")
CLIENT_THREADS = 16
SESSIONS = 200
WRITE_SHARE = 0.75
REQUEST_TIMEOUT = 10.0
COOKIE = "session"
BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
BIN = Path(sys.executable).parent


# The app under load ------------------------------------------------------------------


def create_app() -> Flask:
    """The app the soak drives: ``/put?n=N`` writes ``k<N>``, ``/keys`` reads them back."""
    from sessionkeeper import SessionKeeper

    app = Flask(__name__)
    app.config.update(SECRET_KEY=os.environ["SOAK_SECRET"], SESSION_STORE=os.environ["SOAK_STORE"])
    SessionKeeper(app)

    @app.get("/ping")
    def ping() -> str:
        return "pong"

    @app.get("/put")
    def put() -> str:
        n = int(request.args["n"])
        session[f"k{n}"] = n
        return "ok"  # 200 only once save_session has written it

    @app.get("/keys")
    def keys() -> Response:
        return jsonify({k: v for k, v in session.items() if k.startswith("k")})

    return app


# Processes ---------------------------------------------------------------------------


def free_port() -> int:
    """A loopback port nobody listens on."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def children_of(pid: int) -> list[int]:
    """Every descendant of ``pid`` (read from /proc), deepest last."""
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        kids.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for kid in kids.get(todo.pop(), []):
            found.append(kid)
            todo.append(kid)
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def http_status(port: int, path: str) -> int:
    """``GET path`` on 127.0.0.1:``port``: the status, or 0 when nothing answers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except OSError:
        return 0
    finally:
        conn.close()


def redis_ready(port: int) -> Callable[[], bool]:
    """A readiness check: redis-server answers PING (it refuses while loading its AOF)."""
    import redis

    def check() -> bool:
        try:
            with redis.Redis(port=port, socket_timeout=1) as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    return check


@dataclass
class Service:
    """A server process on a fixed port that can be killed -9 and started again."""

    name: str
    argv: list[str]
    port: int
    ready: Callable[[], bool]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    popen: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> float:
        """Start it (appending to its log) and wait until ready; return the seconds it took."""
        started = time.monotonic()
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env},
                cwd=self.cwd,
                start_new_session=True,  # Ctrl-C reaches this script only; it stops them
            )
        while not self.ready():
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{tail(self.log)}")
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"{self.name} not ready in {timeout:g} s:\n{tail(self.log)}")
            time.sleep(0.02)
        return time.monotonic() - started

    def pids(self) -> list[int]:
        """Its main process and every descendant (workers)."""
        if self.popen is None or self.popen.poll() is not None:
            return []
        return [self.popen.pid, *children_of(self.popen.pid)]

    def kill9(self) -> tuple[list[int], float]:
        """SIGKILL the main process and its workers by pid; wait until all are gone.

        Return the pids and when the last signal was sent (the moment of the kill).
        """
        pids = self.pids()
        for pid in pids:
            signal_pid(pid, signal.SIGKILL)
        killed = time.monotonic()
        if self.popen is not None:
            self.popen.wait(10)
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.01)
        return pids, killed

    def stop(self) -> None:
        """SIGTERM, then SIGKILL whatever is left after 10 s, by pid."""
        pids = self.pids()
        if self.popen is None or not pids:
            return
        self.popen.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)
        deadline = time.monotonic() + 5
        while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.02)
        for pid in pids:
            if alive(pid):
                signal_pid(pid, signal.SIGKILL)
        if self.popen.poll() is None:
            self.popen.wait(5)


def signal_pid(pid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to ``pid`` if it still exists."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def tail(log: Path, size: int = 2000) -> str:
    """The end of a log file."""
    try:
        return log.read_text(errors="replace")[-size:]
    except OSError:
        return ""


def redis_service(workdir: Path) -> tuple[Service, str]:
    """redis-server writing an AOF fsynced on every write; its store URL."""
    port, data = free_port(), workdir / "redis"
    data.mkdir()
    argv = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", str(data)]
    argv += ["--save", "", "--appendonly", "yes", "--appendfsync", "always"]
    service = Service("redis", argv, port, redis_ready(port), workdir / "redis.log")
    return service, f"redis://127.0.0.1:{port}/0"


def kv_service(workdir: Path) -> tuple[Service, str]:
    """``sessionkeeper kv serve`` on a SQLite file; its store URL."""
    port, data = free_port(), workdir / "kv"
    data.mkdir()
    argv = [str(BIN / "sessionkeeper"), "kv", "serve", "--port", str(port)]
    argv += ["--store", f"sqlite:///{data / 'kv.sqlite3'}"]
    ready = lambda: http_status(port, "/healthz") == 200  # noqa: E731
    return Service(
        "kv", argv, port, ready, workdir / "kv.log", cwd=data
    ), f"http://127.0.0.1:{port}"


def app_service(name: str, store: str, workdir: Path) -> Service:
    """This module's app under gunicorn, 2 sync workers, over ``store``."""
    port = free_port()
    argv = [str(BIN / "gunicorn"), "--workers", "2", "--worker-class", "sync"]
    argv += ["--bind", f"127.0.0.1:{port}", "--chdir", str(BENCH_DIR)]
    argv += ["--log-level", "warning", "--graceful-timeout", "5", "soak:create_app()"]
    env = {"SOAK_STORE": store, "SOAK_SECRET": "soak-secret-not-for-production"}
    ready = lambda: http_status(port, "/ping") == 200  # noqa: E731
    return Service(f"app-{name}", argv, port, ready, workdir / f"app-{name}.log", env)


# Load --------------------------------------------------------------------------------


@dataclass
class Answer:
    """One request: which app, when it was sent and answered, and how it ended."""

    app: int
    sent: float
    done: float
    kind: str  # "put" or "keys"
    outcome: str  # "200", "503", "http 500", or "error ConnectionRefusedError"


@dataclass
class Sample:
    """A request worth showing: a 5xx other than 503, a lost write, a stale read."""

    what: str
    request: str
    status: int
    body: str
    at: float


@dataclass
class ClientLog:
    """What one client thread saw."""

    answers: list[Answer] = field(default_factory=list)
    acked: dict[str, list[int]] = field(default_factory=dict)  # cookie -> values written
    samples: list[Sample] = field(default_factory=list)
    stale_reads: int = 0
    resets: int = 0
    unverifiable: int = 0  # a 200 to a write that left the client with no cookie


def call(port: int, path: str, cookie: str | None) -> tuple[int, str | None, bytes]:
    """``GET path`` with the session cookie; the status, the new cookie (if set) and the body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        headers = {"Accept": "application/json"}
        if cookie is not None:
            headers["Cookie"] = f"{COOKIE}={cookie}"
        conn.request("GET", path, headers=headers)
        answer = conn.getresponse()
        body = answer.read()
        new: str | None = None
        for header in answer.headers.get_all("Set-Cookie") or []:
            jar: SimpleCookie = SimpleCookie(header)
            if COOKIE in jar:
                morsel = jar[COOKIE]
                new = "" if morsel["max-age"] == "0" or not morsel.value else morsel.value
        return answer.status, new, body
    finally:
        conn.close()


def outcome_of(status: int) -> str:
    """The name an answer is counted under."""
    return str(status) if status in (200, 503) else f"http {status}"


def client(index: int, ports: list[int], deadline: float, t0: float, log: ClientLog) -> None:
    """Write and read this thread's own sessions until ``deadline``."""
    rng = random.Random(index)
    owned = list(range(index, SESSIONS, CLIENT_THREADS))
    cookies: dict[int, str | None] = dict.fromkeys(owned)
    count = 0
    while time.monotonic() < deadline:
        sid = owned[count % len(owned)]
        app = rng.randrange(len(ports))
        cookie = cookies[sid]
        write = cookie is None or rng.random() < WRITE_SHARE
        n = count * CLIENT_THREADS + index  # distinct across all threads
        count += 1
        path = f"/put?n={n}" if write else "/keys"
        sent = time.monotonic()
        try:
            status, new, body = call(ports[app], path, cookie)
        except (OSError, http.client.HTTPException) as exc:
            log.answers.append(
                Answer(app, sent, time.monotonic(), path[1:4], f"error {type(exc).__name__}")
            )
            time.sleep(0.05)  # an app that refuses connections is not hammered
            continue
        done = time.monotonic()
        log.answers.append(Answer(app, sent, done, path[1:4], outcome_of(status)))
        if status not in (200, 503):
            text = body[:300].decode(errors="replace")
            log.samples.append(
                Sample(outcome_of(status), f"GET {path} app {APPS[app]}", status, text, sent - t0)
            )
        if status != 200:
            continue
        if write:
            stored = new if new else cookie
            if stored is None:
                log.unverifiable += 1
                continue
            if cookie is not None and stored != cookie:
                log.resets += 1  # the record behind a known cookie was gone: a new session
                log.samples.append(
                    Sample("new id for a known cookie", f"GET {path}", 200, "", sent - t0)
                )
            cookies[sid] = stored
            log.acked.setdefault(stored, []).append(n)
        else:
            assert cookie is not None  # only a session with a cookie is read
            try:
                data = json.loads(body)
            except ValueError:
                log.samples.append(
                    Sample("200 read not JSON", "GET /keys", 200, repr(body[:80]), sent - t0)
                )
                continue
            missing = [m for m in log.acked.get(cookie, []) if data.get(f"k{m}") != m]
            if missing:
                log.stale_reads += 1
                log.samples.append(
                    Sample(
                        "read missing acknowledged writes",
                        f"GET /keys app {APPS[app]}",
                        200,
                        f"missing {len(missing)}: {missing[:5]}",
                        sent - t0,
                    )
                )


def verify(ports: list[int], acked: dict[str, list[int]]) -> tuple[int, int, list[Sample]]:
    """Read every session back; return (lost writes, unreadable sessions, samples)."""
    lost = unreadable = 0
    samples: list[Sample] = []
    for i, (cookie, values) in enumerate(sorted(acked.items())):
        data: dict[str, Any] | None = None
        for attempt in range(10):
            try:
                status, _, body = call(ports[(i + attempt) % len(ports)], "/keys", cookie)
            except (OSError, http.client.HTTPException):
                status, body = 0, b""
            if status == 200:
                data = json.loads(body)
                break
            time.sleep(0.2)
        if data is None:
            unreadable += 1
            lost += len(values)
            continue
        missing = [n for n in values if data.get(f"k{n}") != n]
        if missing:
            lost += len(missing)
            detail = f"{len(missing)} of {len(values)} missing, e.g. {missing[:5]}"
            samples.append(Sample("lost acknowledged writes", "GET /keys", 200, detail, 0.0))
    return lost, unreadable, samples


# One scenario ------------------------------------------------------------------------


@dataclass
class Result:
    """The figures of one scenario."""

    scenario: str
    killed: str
    seconds: float
    requests: int
    requests_per_s: float
    acknowledged: int
    lost: int
    unreadable_sessions: int
    http_5xx_not_503: int
    http_503: int
    http_503_outside_outage: int
    other_errors: int
    other_errors_outside_outage: int
    error_kinds: dict[str, int]
    stale_reads: int
    session_resets: int
    unverifiable_acks: int
    kill_at_s: float
    restart_at_s: float
    restart_ready_s: float
    recover_s: dict[str, float | None]
    last_failure_s: dict[str, float | None]
    tracebacks_in_app_logs: int
    samples: list[dict[str, Any]]
    log_excerpt: str


def run_scenario(name: str, args: argparse.Namespace, workdir: Path) -> Result:
    """Start the store and two apps, load them, kill -9 and restart midway, verify."""
    services: list[Service] = []
    try:
        if name == "sqlite":
            store = f"sqlite:///{workdir / 'sessions.db'}"
        else:
            service, store = (redis_service if name == "redis" else kv_service)(workdir)
            services.append(service)
            service.start()
        apps = [app_service(label, store, workdir) for label in APPS]
        services += apps
        for app in apps:
            app.start()
        target = apps[0] if name == "sqlite" else services[0]
        ports = [app.port for app in apps]
        return load_and_kill(name, args, workdir, ports, target, apps)
    finally:
        for service in reversed(services):
            service.stop()


def load_and_kill(
    name: str,
    args: argparse.Namespace,
    workdir: Path,
    ports: list[int],
    target: Service,
    apps: list[Service],
) -> Result:
    """Run the clients; kill -9 ``target`` midway, restart it after the outage; verify."""
    logs = [ClientLog() for _ in range(CLIENT_THREADS)]
    t0 = time.monotonic()
    deadline = t0 + args.seconds
    threads = [
        threading.Thread(target=client, args=(i, ports, deadline, t0, logs[i]), daemon=True)
        for i in range(CLIENT_THREADS)
    ]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, t0 + args.seconds / 2 - time.monotonic()))
    pids, t_kill = target.kill9()
    print(
        f"  {name}: killed {target.name} (pids {len(pids)}) at {t_kill - t0:.1f} s", file=sys.stderr
    )
    time.sleep(args.outage)
    t_restart = time.monotonic()
    ready_s = target.start()
    print(f"  {name}: {target.name} ready {ready_s:.2f} s after its restart", file=sys.stderr)
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()) + REQUEST_TIMEOUT + 5)
    elapsed = time.monotonic() - t0
    acked: dict[str, list[int]] = {}
    for log in logs:
        for cookie, values in log.acked.items():
            acked.setdefault(cookie, []).extend(values)
    lost, unreadable, lost_samples = verify(ports, acked)
    answers = [a for log in logs for a in log.answers]
    recover: dict[str, float | None] = {}
    recovered_at: dict[int, float] = {}
    last_failure: dict[str, float | None] = {}
    for i, label in enumerate(APPS):
        oks = [a.done for a in answers if a.app == i and a.outcome == "200" and a.sent >= t_kill]
        recover[label] = round(min(oks) - t_kill, 3) if oks else None
        recovered_at[i] = min(oks) if oks else float("inf")
        failed = [a.done for a in answers if a.app == i and a.outcome != "200" and a.done >= t_kill]
        last_failure[label] = round(max(failed) - t_kill, 3) if failed else None

    def outside(a: Answer) -> bool:
        return a.done < t_kill or a.sent > recovered_at[a.app]

    errors = [a for a in answers if a.outcome.startswith(("error", "http 4"))]
    http_503 = [a for a in answers if a.outcome == "503"]
    samples = [s for log in logs for s in log.samples] + lost_samples
    app_logs = [app.log.read_text(errors="replace") for app in apps]
    return Result(
        scenario=name,
        killed=KILLED[name],
        seconds=round(elapsed, 1),
        requests=len(answers),
        requests_per_s=round(len(answers) / elapsed, 1),
        acknowledged=sum(len(values) for values in acked.values()),
        lost=lost,
        unreadable_sessions=unreadable,
        http_5xx_not_503=sum(1 for a in answers if a.outcome.startswith("http 5")),
        http_503=len(http_503),
        http_503_outside_outage=sum(1 for a in http_503 if outside(a)),
        other_errors=len(errors),
        other_errors_outside_outage=sum(1 for a in errors if outside(a)),
        error_kinds=dict(Counter(a.outcome for a in answers if a.outcome not in ("200", "503"))),
        stale_reads=sum(log.stale_reads for log in logs),
        session_resets=sum(log.resets for log in logs),
        unverifiable_acks=sum(log.unverifiable for log in logs),
        kill_at_s=round(t_kill - t0, 2),
        restart_at_s=round(t_restart - t0, 2),
        restart_ready_s=round(ready_s, 2),
        recover_s=recover,
        last_failure_s=last_failure,
        tracebacks_in_app_logs=sum(text.count("Traceback") for text in app_logs),
        samples=[asdict(s) for s in samples[:10]],
        log_excerpt=first_traceback(app_logs),
    )


def first_traceback(texts: list[str], lines: int = 40) -> str:
    """The first traceback in the logs, to explain a 500."""
    for text in texts:
        at = text.find("Traceback")
        if at >= 0:
            start = text.rfind("\n", 0, max(0, at - 200)) + 1
            return "\n".join(text[start:].splitlines()[:lines])
    return ""


# Report ------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    """The machine and the versions of what ran."""
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = [f"Python {platform.python_version()}", f"SQLite {sqlite3.sqlite_version}"]
    for dist in ("sessionkeeper", "flask", "werkzeug", "redis", "hiredis", "granian", "gunicorn"):
        versions.append(f"{dist} {metadata.version(dist)}")
    redis_version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True)
    versions.append(redis_version.stdout.split()[2].replace("v=", "redis-server "))
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    git = ["git", "-C", str(REPO)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    status = subprocess.run(
        [*git, "status", "--porcelain", "--", "src/sessionkeeper"], capture_output=True, text=True
    )
    changed = [line[3:] for line in status.stdout.splitlines()]
    return {
        "commit": commit.stdout.strip(),
        "uncommitted library files": ", ".join(changed) or "none",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores, {cpu}, Linux {platform.release()}",
        "load average before": load,
        "versions": ", ".join(versions),
    }


HEADER = (
    "| scenario | acknowledged writes | lost | 5xx not 503 | 503 (outside outage) "
    "| other errors (outside outage) | seconds to recover, app A / B | requests/s |\n"
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
)


def row(r: Result) -> str:
    """One scenario as a table row."""
    recover = " / ".join("never" if s is None else f"{s:.2f}" for s in r.recover_s.values())
    return (
        f"| {r.scenario} | {r.acknowledged} | {r.lost} | {r.http_5xx_not_503} "
        f"| {r.http_503} ({r.http_503_outside_outage}) "
        f"| {r.other_errors} ({r.other_errors_outside_outage}) | {recover} "
        f"| {r.requests_per_s:.0f} |"
    )


def render(
    meta: dict[str, str], command: str, args: argparse.Namespace, results: list[Result]
) -> str:
    """The Markdown report."""
    out = [
        f"# Soak run of failing stores, {meta['date']}",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {meta['machine']}; load average before: {meta['load average before']}.",
        f"Versions: {meta['versions']}.",
        f"Library: commit {meta['commit']}; files of src/sessionkeeper changed in the work"
        f" tree when it ran: {meta['uncommitted library files']}.",
        "",
        f"Each scenario: two app servers (gunicorn, 2 sync workers each) on one store,"
        f" {CLIENT_THREADS} client threads over {SESSIONS} sessions (each thread owns its"
        f" sessions; {WRITE_SHARE:.0%} writes of a distinct key, the rest reads that check"
        f" every write acknowledged so far), {args.seconds:g} s of load; midway the killed"
        f" process gets SIGKILL and is restarted {args.outage:g} s later on the same port"
        ' and data. "Outside outage" counts answers before the kill or sent after the'
        " app's first 200 following it; seconds to recover run from the kill to that 200.",
        "",
        HEADER,
        *(row(r) for r in results),
        "",
    ]
    for r in results:
        last = " / ".join("none" if s is None else f"{s:.2f}" for s in r.last_failure_s.values())
        out += [
            f"## {r.scenario}",
            "",
            f"- killed: {r.killed}, at {r.kill_at_s:g} s; restarted at {r.restart_at_s:g} s,"
            f" ready {r.restart_ready_s:g} s later",
            f"- seconds from the kill to the last answer other than 200, app A / B: {last}",
            f"- {r.requests} requests in {r.seconds:g} s; answers other than 200 and 503:"
            f" {json.dumps(r.error_kinds, sort_keys=True) if r.error_kinds else 'none'}",
            f"- reads missing an acknowledged write: {r.stale_reads}; known cookies given a new"
            f" session id: {r.session_resets}; sessions unreadable at the end:"
            f" {r.unreadable_sessions}; acknowledged writes with no cookie: {r.unverifiable_acks}",
            f"- tracebacks in the app logs: {r.tracebacks_in_app_logs}",
        ]
        if r.samples:
            out += ["", "First samples:", ""]
            out += [
                f"- {s['what']}: {s['request']} -> {s['status']} {s['body']!r} at {s['at']:.2f} s"
                for s in r.samples
            ]
        if r.log_excerpt:
            out += ["", "First traceback in the app logs:", "", "```", r.log_excerpt, "```"]
        out.append("")
    return "\n".join(out)


def scrub(text: str, workdir: Path) -> str:
    """Replace this machine's paths by names relative to the run or the repository."""
    return text.replace(str(workdir), "<workdir>").replace(str(REPO), ".")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="load per scenario")
    parser.add_argument(
        "--outage", type=float, default=2.0, help="seconds between kill and restart"
    )
    parser.add_argument("--only", choices=SCENARIOS, help="run one scenario")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results", help="results folder")
    args = parser.parse_args()
    command = shlex.join([".venv/bin/python", "bench/soak.py", *sys.argv[1:]])
    meta = machine()
    results: list[Result] = []
    for name in [args.only] if args.only else SCENARIOS:
        with tempfile.TemporaryDirectory(prefix=f"soak-{name}-") as tmp:
            workdir = Path(tmp)
            print(f"{name}: {args.seconds:g} s of load", file=sys.stderr)
            result = run_scenario(name, args, workdir)
            result.samples = [
                {k: scrub(v, workdir) if isinstance(v, str) else v for k, v in s.items()}
                for s in result.samples
            ]
            result.log_excerpt = scrub(result.log_excerpt, workdir)
            results.append(result)
            print(HEADER + "\n" + row(result), flush=True)
    text = render(meta, command, args, results)
    print("\n" + text)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"soak-{datetime.now(UTC).strftime('%Y-%m-%d')}"
    stem.with_suffix(".md").write_text(text)
    document = {
        "meta": meta,
        "command": command,
        "settings": {"seconds": args.seconds, "outage": args.outage, "only": args.only},
        "results": [asdict(r) for r in results],
    }
    stem.with_suffix(".json").write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {os.path.relpath(stem.with_suffix('.md'))} and .json", file=sys.stderr)


if __name__ == "__main__":
    main()
