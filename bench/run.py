"""Benchmark SessionKeeper against Flask's cookie session, Flask-Session and no session.

Run ``make bench`` (or ``.venv/bin/python bench/run.py``; ``--quick`` for a short
trial). Every server is started here on 127.0.0.1, pinned with ``taskset``, and
stopped by its pid at the end. The tables are printed and written to
``bench/results/<date>-<host>.md`` and ``bench/results/latest.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import growth
import redis
from app import VARIANTS, create_app
from client import make_sessions
from kvbench import kv_runs, preload, redis_benchmark
from load import Spec, WrkResult, wrk
from procs import (
    BENCH_DIR,
    CLIENT_CPU,
    SERVER_CPU,
    SERVERS,
    Proc,
    cpu_seconds,
    free_port,
    pin,
    start,
    start_app,
    start_kv,
    start_redis,
    wait_app,
    wait_until,
)
from races import lost_updates
from report import ROUTES, Cpu, Results, render
from writes import (
    Counter,
    MemcachedWrites,
    PostgresWrites,
    RedisWrites,
    SqliteWrites,
    read_only_writes,
)

from sessionkeeper.stores.http import HttpStore
from sessionkeeper.stores.redis import RedisStore
from sessionkeeper.stores.sqlite import SqliteStore

LOCKABLE = ("sk-sqlite", "sk-redis", "sk-redis-cache", "sk-kv", "sk-postgresql", "sk-memcached")
SERVER_SIDE = ("fs-redis", "fs-sqlalchemy", "fs-sqlalchemy-postgresql", "fs-memcached", *LOCKABLE)
PG_VARIANTS = ("fs-sqlalchemy-postgresql", "sk-postgresql")
MEMCACHED_VARIANTS = ("fs-memcached", "sk-memcached")
SECTIONS = ("roundtrip", "writes", "throughput", "lost", "kv", "growth")


def _postgres_bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))), None
    )
    if found is None:
        raise RuntimeError(f"{name} is not installed (Debian: apt-get install postgresql)")
    return str(found)


def start_postgres(workdir: Path, cpu: str | None) -> Proc:
    """Start a private PostgreSQL (fsync on: a real one) on loopback, as ``postgres`` if root."""
    port, data = free_port(), workdir / "postgres"
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses root: its folder and process go to postgres
        os.chmod(workdir, 0o711)  # noqa: S103 - traverse only: postgres reaches its folder
        data.mkdir()
        shutil.chown(data, "postgres")
        as_user = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]
    initdb = [_postgres_bin("initdb"), "-D", str(data / "db"), "-U", "postgres", "--auth=trust"]
    subprocess.run([*as_user, *initdb, "-E", "UTF8", "--locale=C"], check=True, capture_output=True)
    argv = [*as_user, _postgres_bin("postgres"), "-D", str(data / "db"), "-p", str(port)]
    argv += ["-h", "127.0.0.1", "-k", str(data), "-c", "max_connections=300"]
    proc = start("postgres", argv, port=port, workdir=workdir, cpu=cpu)
    wait_until(proc, lambda: _psql(port, "SELECT 1"))
    return proc


def _psql(port: int, sql: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(f"host=127.0.0.1 port={port} user=postgres", autocommit=True) as conn:
            conn.execute(sql)
    except psycopg.OperationalError:
        return False
    return True


def postgres_database(port: int, name: str) -> str:
    """Create database ``name`` unless it exists; return its SQLAlchemy URL."""
    import psycopg

    with contextlib.suppress(psycopg.errors.DuplicateDatabase):
        _psql(port, f"CREATE DATABASE {name}")
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/{name}"


def start_memcached(workdir: Path, cpu: str | None) -> Proc:
    """Start a private memcached on loopback (TCP only)."""
    port = free_port()
    argv = ["memcached", "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "256", "-c", "4096"]
    argv += ["-u", "nobody"] if os.geteuid() == 0 else []
    proc = start("memcached", argv, port=port, workdir=workdir, cpu=cpu)

    def version() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"version\r\n")
            return sock.recv(64).startswith(b"VERSION")

    wait_until(proc, version)
    return proc


def log(message: str) -> None:
    """Progress on stderr, so stdout keeps only the tables."""
    print(message, file=sys.stderr, flush=True)


class Bench:
    """One run: its processes, its work directory and its results."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.procs: list[Proc] = []
        self.apps: dict[tuple[str, str], Proc] = {}
        self.results = Results(meta=machine(), settings=settings(args))

    def start_services(self) -> None:
        """Start Redis and the KV service the apps' stores use, on the client core."""
        self.redis = start_redis(self.workdir)
        self.procs.append(self.redis)
        self.kv = start_kv("kv", self.workdir / "kv.sqlite3", self.workdir, CLIENT_CPU)
        self.procs.append(self.kv)
        self.postgres = self.memcached = None
        if set(PG_VARIANTS) & set(self.args.variants):
            self.postgres = start_postgres(self.workdir, CLIENT_CPU)
            self.procs.append(self.postgres)
        if set(MEMCACHED_VARIANTS) & set(self.args.variants):
            self.memcached = start_memcached(self.workdir, CLIENT_CPU)
            self.procs.append(self.memcached)

    def url(self, server: str, variant: str) -> str:
        """The store of one app server: its own SQLite file or Redis database."""
        db = (SERVERS.index(server) + 1) * 10 + VARIANTS.index(variant)
        if variant in ("fs-redis", "sk-redis", "sk-redis-cache"):
            return f"redis://127.0.0.1:{self.redis.port}/{db}"
        if variant in ("fs-sqlalchemy", "sk-sqlite"):
            return f"sqlite:///{self.workdir / f'{server}-{variant}.sqlite3'}"
        if variant == "sk-kv":
            return f"http://127.0.0.1:{self.kv.port}"
        if variant in PG_VARIANTS and self.postgres is not None:
            return postgres_database(self.postgres.port, f"{server}_{variant}".replace("-", "_"))
        if variant in MEMCACHED_VARIANTS and self.memcached is not None:
            return f"memcached://127.0.0.1:{self.memcached.port}"  # own keys: id-derived
        return ""

    def start_apps(self) -> None:
        """Start every variant under every server, all at once, each on its own port."""
        for server in SERVERS:
            for variant in ("fs-sqlalchemy", "fs-sqlalchemy-postgresql"):
                if variant in self.args.variants:
                    # Create Flask-Session's table once, before two workers race to create it.
                    os.environ["BENCH_URL"] = self.url(server, variant)
                    create_app(variant)
        for server in SERVERS:
            for variant in self.args.variants:
                proc = start_app(server, variant, self.url(server, variant), self.workdir)
                self.apps[server, variant] = proc
                self.procs.append(proc)
        for proc in self.apps.values():
            wait_app(proc)
        log(f"started {len(self.apps)} app servers")

    def stop_apps(self) -> None:
        """Stop the app servers and the KV service they used."""
        for proc in [*self.apps.values(), self.kv]:
            proc.stop()
            self.procs.remove(proc)
        self.apps.clear()

    def stop_all(self) -> None:
        """Stop every process this run started, by pid."""
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()

    # Sections ----------------------------------------------------------------------

    def counter(self, variant: str) -> Counter:
        """The write counter of the granian app's store for ``variant``."""
        if variant in ("fs-redis", "sk-redis", "sk-redis-cache"):
            return RedisWrites(self.redis.port)
        if variant == "sk-kv":
            return SqliteWrites(self.workdir / "kv.sqlite3", "records")
        if variant in PG_VARIANTS:
            table = "sessions" if variant.startswith("fs-") else "sessionkeeper_records"
            return PostgresWrites(self.url("granian", variant), table)
        if variant in MEMCACHED_VARIANTS and self.memcached is not None:
            return MemcachedWrites(self.memcached.port)
        path = Path(self.url("granian", variant).removeprefix("sqlite:///"))
        return SqliteWrites(path, "sessions" if variant == "fs-sqlalchemy" else "records")

    def writes(self) -> None:
        """Store writes per 1,000 /read on fresh sessions (granian).

        The counter runs while the sessions are created too: seeing those writes
        shows it counts this store's writes at all.
        """
        for variant in [v for v in SERVER_SIDE if v in self.args.variants]:
            port = self.apps["granian", variant].port
            make_sessions(port, 1)  # a store may create its table on its first write
            counter = self.counter(variant)
            try:
                cookies = make_sessions(port, self.args.sessions)
                created = counter.count()
                if created < len(cookies):
                    raise RuntimeError(f"{variant}: the counter saw {created} writes at creation")
                reads = read_only_writes(port, cookies, counter)
            finally:
                counter.close()
            self.results.writes[variant] = (reads, created)
            log(f"{variant}: {reads} writes per 1,000 reads ({created} creating the sessions)")

    def throughput(self) -> None:
        """wrk over every server, route and variant, interleaved, for several rounds."""
        args = self.args
        specs: dict[tuple[str, str, str], list[Spec]] = {}
        for server in SERVERS:
            pools = {
                v: make_sessions(self.apps[server, v].port, args.sessions) for v in args.variants
            }
            pools["none"] = pools["flask-cookie"]  # the same cookie bytes, never opened
            for variant, cookies in pools.items():
                for route in args.routes:
                    specs[server, route, variant] = [
                        Spec("GET", route, {"Cookie": c}) for c in cookies
                    ]
        for server in SERVERS:
            for variant in args.variants:
                self._wrk(server, args.routes[0], variant, specs, args.warmup)
        for round_ in range(1, args.rounds + 1):
            for server in SERVERS:
                for route in args.routes:
                    for variant in args.variants:
                        result, cpu = self._measured(server, route, variant, specs)
                        key = (server, route, variant)
                        self.results.throughput.setdefault(key, []).append(result)
                        self.results.cpu.setdefault(key, []).append(cpu)
                        store = "" if cpu.store_us is None else f", store {cpu.store_us:.0f} us"
                        log(
                            f"round {round_}/{args.rounds} {server} {route} {variant}: "
                            f"{cpu.server_us:.0f} us/request{store}, {result.rps:.0f} req/s, "
                            f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms, "
                            f"errors {result.errors}"
                        )

    def store_pid(self, variant: str) -> int | None:
        """The process of the store a variant's app uses, if it has one of its own."""
        if variant in ("fs-redis", "sk-redis", "sk-redis-cache"):
            return self.redis.popen.pid
        if variant == "sk-kv":
            return self.kv.popen.pid
        if variant in PG_VARIANTS and self.postgres is not None:
            return self.postgres.popen.pid
        if variant in MEMCACHED_VARIANTS and self.memcached is not None:
            return self.memcached.popen.pid
        return None

    def _measured(
        self,
        server: str,
        route: str,
        variant: str,
        specs: dict[tuple[str, str, str], list[Spec]],
    ) -> tuple[WrkResult, Cpu]:
        """One wrk run, and the CPU the app server (and its store) spent per request."""
        app_pid, store_pid = self.apps[server, variant].popen.pid, self.store_pid(variant)
        app_before = cpu_seconds(app_pid)
        store_before = cpu_seconds(store_pid) if store_pid is not None else 0.0
        result = self._wrk(server, route, variant, specs, self.args.duration)
        app_spent = cpu_seconds(app_pid) - app_before
        store_us = None
        if store_pid is not None:
            store_us = (cpu_seconds(store_pid) - store_before) * 1e6 / max(result.requests, 1)
        return result, Cpu(app_spent * 1e6 / max(result.requests, 1), store_us)

    def _wrk(
        self,
        server: str,
        route: str,
        variant: str,
        specs: dict[tuple[str, str, str], list[Spec]],
        duration: float,
    ) -> WrkResult:
        return wrk(
            self.apps[server, variant].port,
            specs[server, route, variant],
            duration=duration,
            connections=self.args.connections,
            script=self.workdir / "wrk.lua",
        )

    def lost(self) -> None:
        """The lost-update races, every variant under every server."""
        args = self.args
        for server in SERVERS:
            for variant in args.variants[1:]:
                port = self.apps[server, variant].port
                lost = lost_updates(port, lockable=variant in LOCKABLE)
                self.results.lost[server, variant] = lost
                log(f"lost updates {server} {variant}: {lost}")

    def roundtrip(self) -> None:
        """A Redis round trip's cost to a caller on the server core: Redis on the other
        core (as in every other section), then on the same one; medians of 3 rounds."""
        runs: dict[str, list[dict[str, float]]] = {}
        try:
            for _ in range(3):
                for where, cpu in (("other core", CLIENT_CPU), ("same core", SERVER_CPU)):
                    pin(self.redis.popen.pid, cpu)
                    argv = ["taskset", "-c", SERVER_CPU, sys.executable]
                    argv += [str(BENCH_DIR / "roundtrip.py"), str(self.redis.port)]
                    out = subprocess.run(argv, check=True, capture_output=True, text=True)
                    for wait, figures in json.loads(out.stdout).items():
                        runs.setdefault(f"{wait}, Redis on the {where}", []).append(figures)
        finally:
            pin(self.redis.popen.pid, CLIENT_CPU)
        for name, rounds in runs.items():
            self.results.roundtrip[name] = {
                k: statistics.median(r[k] for r in rounds) for k in ("cpu_us", "wall_us")
            }
        log(f"round trips: {self.results.roundtrip}")

    def kv_alone(self) -> None:
        """The KV service and Redis, each pinned to the server core, same connections."""
        pin(self.redis.popen.pid, SERVER_CPU)
        kv = start_kv("kv-alone", self.workdir / "kv-alone.sqlite3", self.workdir, SERVER_CPU)
        self.procs.append(kv)
        try:
            preload(kv.port)
            self.results.kv = kv_runs(
                kv.port,
                duration=self.args.duration,
                connections=self.args.connections,
                workdir=self.workdir,
            )
        finally:
            kv.stop()
            self.procs.remove(kv)
        self.results.redis_bench = redis_benchmark(
            self.redis.port, connections=self.args.connections, requests=self.args.redis_requests
        )
        log(f"kv alone: {self.results.kv}\nredis-benchmark: {self.results.redis_bench}")

    def growth(self) -> None:
        """Bulk-load 10^3..10^N sessions into SQLite, Redis and the KV service; time the API."""
        pin(self.redis.popen.pid, SERVER_CPU)
        path = self.workdir / "growth.sqlite3"
        sqlite_store = SqliteStore(path)
        sqlite_store.set("bench:schema", b"{}")  # creates the file and its schema
        kv = start_kv("kv-growth", path, self.workdir, SERVER_CPU)
        self.procs.append(kv)
        redis_url = f"redis://127.0.0.1:{self.redis.port}/63"
        stores = {
            "sqlite": sqlite_store,
            "redis": RedisStore.from_url(redis_url),
            "kv": HttpStore(f"http://127.0.0.1:{kv.port}"),
        }
        raw = redis.Redis.from_url(redis_url)
        index = growth.redis_index(raw, stores["redis"])
        loads = {"sqlite": self.args.loads, "redis": self.args.loads, "kv": self.args.loads // 2}
        loaded = 0
        try:
            for exponent in range(3, self.args.growth_max + 1):
                size = 10**exponent
                began = time.monotonic()
                growth.load_sqlite(path, loaded, size)
                growth.load_redis(raw, index, loaded, size)
                loaded = size
                log(f"growth: loaded {size:,} sessions in {time.monotonic() - began:.1f} s")
                ordered = growth.ordered_keys(size)
                for name, store in stores.items():
                    point = growth.measure(
                        store, ordered, loads=loads[name], scan_budget=self.args.scan_budget
                    )
                    self.results.growth.setdefault(name, []).append(point)
                    log(f"growth {name} {size:,}: {point}")
        finally:
            for store in stores.values():
                store.close()
            raw.close()
            kv.stop()
            self.procs.remove(kv)


def machine() -> dict[str, str]:
    """The machine, the date and the versions of everything measured."""
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = [f"Python {platform.python_version()}", f"SQLite {sqlite3.sqlite_version}"]
    for dist in (
        "sessionkeeper",
        "flask",
        "werkzeug",
        "flask-session",
        "sqlalchemy",
        "flask-sqlalchemy",
        "redis",
        "hiredis",
        "cryptography",
        "granian",
        "gunicorn",
    ):
        versions.append(f"{dist} {metadata.version(dist)}")
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()
    redis_version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True)
    versions.append(f"wrk {wrk_version[1] if len(wrk_version) > 1 else '?'}")
    versions.append(redis_version.stdout.split()[2].replace("v=", "redis-server "))
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "host": platform.node(),
        "machine": f"{os.cpu_count()} cores, {cpu}, {memory:.0f} GiB, Linux {platform.release()}",
        "versions": ", ".join(versions),
    }


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages: other work on the machine shows here."""
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def settings(args: argparse.Namespace) -> dict[str, str]:
    """How the run was configured, for the report."""
    return {
        "load": (
            f"wrk -t1 -c{args.connections} -d{args.duration:g}s over {args.sessions} session "
            f"cookies rotated per request; {args.rounds} interleaved round(s), medians; "
            f"server pinned to core {SERVER_CPU}, wrk, Redis and the KV service to core "
            f"{CLIENT_CPU}"
        ),
        "command": "make bench" if not args.quick else "python bench/run.py --quick",
        "variants": ", ".join(args.variants),
        "routes": ", ".join(args.routes),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Options; ``--quick`` shortens everything for a trial run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round, 2 s runs, small growth")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--duration", type=int, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--sessions", type=int, default=64)
    parser.add_argument("--growth-max", type=int, help="largest size is 10^N")
    parser.add_argument("--only", help=f"comma-separated sections of {','.join(SECTIONS)}")
    parser.add_argument(
        "--variants", help="comma-separated subset (none and flask-cookie always run)"
    )
    parser.add_argument("--routes", help="comma-separated subset of /ping,/read,/incr")
    parser.add_argument("--no-save", action="store_true", help="print only, write no files")
    args = parser.parse_args(argv)
    quick = args.quick
    args.rounds = args.rounds or (1 if quick else 3)
    args.duration = args.duration or (2 if quick else 4)
    args.growth_max = args.growth_max or (4 if quick else 6)
    args.warmup = 1
    args.loads = 1000 if quick else 3000
    args.scan_budget = 0.5 if quick else 2.0
    args.redis_requests = 50_000 if quick else 200_000
    args.sections = args.only.split(",") if args.only else list(SECTIONS)
    chosen = set(args.variants.split(",")) if args.variants else set(VARIANTS)
    args.variants = [v for v in VARIANTS if v in chosen | {"none", "flask-cookie"}]
    args.routes = [r for r in ROUTES if not args.routes or r in args.routes.split(",")]
    if len(args.variants) < len(chosen | {"none", "flask-cookie"}) or not args.routes:
        parser.error(f"variants are {', '.join(VARIANTS)}; routes are {', '.join(ROUTES)}")
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    return args


def save(results: Results, text: str) -> Path:
    """Write the report (and its raw numbers as JSON) under bench/results/."""
    out = BENCH_DIR / "results"
    out.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    name = f"{stamp}-{results.meta['host']}"
    (out / f"{name}.md").write_text(text)
    (out / "latest.md").write_text(text)
    raw = {
        "meta": results.meta,
        "settings": results.settings,
        "throughput": {" ".join(k): [asdict(r) for r in v] for k, v in results.throughput.items()},
        "cpu": {" ".join(k): [asdict(c) for c in v] for k, v in results.cpu.items()},
        "lost": {" ".join(k): asdict(v) for k, v in results.lost.items()},
        "writes": results.writes,
        "kv": {k: asdict(v) for k, v in results.kv.items()},
        "redis_bench": {k: asdict(v) for k, v in results.redis_bench.items()},
        "growth": {k: [asdict(p) for p in v] for k, v in results.growth.items()},
        "roundtrip": results.roundtrip,
        "wall_seconds": results.wall_seconds,
    }
    (out / f"{name}.json").write_text(json.dumps(raw, indent=1) + "\n")
    return out / f"{name}.md"


def main(argv: list[str] | None = None) -> int:
    """Run the sections asked for, print the tables, write the results."""
    args = parse_args(argv)
    began = time.monotonic()
    load_at_start = loadavg()
    os.sched_setaffinity(0, {int(CLIENT_CPU)})
    workdir = Path(tempfile.mkdtemp(prefix="sessionkeeper-bench-"))
    bench = Bench(args, workdir)
    try:
        bench.start_services()
        if "roundtrip" in args.sections:
            bench.roundtrip()
        app_sections = {"writes", "throughput", "lost"} & set(args.sections)
        if app_sections:
            bench.start_apps()
            for name in ("writes", "throughput", "lost"):
                if name in app_sections:
                    getattr(bench, name)()
        bench.stop_apps()
        if "kv" in args.sections:
            bench.kv_alone()
        if "growth" in args.sections:
            bench.growth()
    finally:
        bench.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    bench.results.wall_seconds = time.monotonic() - began
    bench.results.meta["load average"] = f"{load_at_start} at start, {loadavg()} at the end"
    text = render(bench.results)
    print(text)
    if not args.no_save:
        log(f"wrote {save(bench.results, text)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
