"""Turn a run's measurements into Markdown tables and a verdict on each target."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field

from app import VARIANTS
from growth import Point
from kvbench import RedisBench
from load import WrkResult
from procs import SERVER_LABELS, SERVERS
from races import LostUpdates

ROUTES = ("/ping", "/read", "/incr")
LABELS = {
    "none": "none (no session)",
    "flask-cookie": "Flask cookie",
    "fs-redis": "Flask-Session Redis",
    "fs-sqlalchemy": "Flask-Session SQLAlchemy/SQLite",
    "sk-cookie": "SessionKeeper cookie",
    "sk-encrypted": "SessionKeeper encrypted cookie",
    "sk-sqlite": "SessionKeeper SQLite",
    "sk-redis": "SessionKeeper Redis",
    "sk-kv": "SessionKeeper KV service",
    "sk-redis-cache": "SessionKeeper Redis, client cache",
    "fs-sqlalchemy-postgresql": "Flask-Session SQLAlchemy/PostgreSQL",
    "fs-memcached": "Flask-Session Memcached",
    "sk-postgresql": "SessionKeeper PostgreSQL",
    "sk-memcached": "SessionKeeper Memcached",
}
STORE_LABELS = {"sqlite": "SQLite", "redis": "Redis", "kv": "KV service (HTTP)"}


@dataclass(frozen=True)
class Median:
    """Medians over the rounds of one server, route and variant."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


@dataclass(frozen=True)
class Cpu:
    """CPU one wrk run cost per request completed: the app server's, and its store's."""

    server_us: float
    store_us: float | None


@dataclass
class Results:
    """Everything one run measured."""

    meta: dict[str, str]
    settings: dict[str, str]
    throughput: dict[tuple[str, str, str], list[WrkResult]] = field(default_factory=dict)
    cpu: dict[tuple[str, str, str], list[Cpu]] = field(default_factory=dict)
    """Per server, route and variant: the CPU of each round."""
    lost: dict[tuple[str, str], LostUpdates] = field(default_factory=dict)
    writes: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Per variant: writes during 1,000 reads, and changes counted creating the sessions."""
    kv: dict[str, WrkResult] = field(default_factory=dict)
    redis_bench: dict[str, RedisBench] = field(default_factory=dict)
    growth: dict[str, list[Point]] = field(default_factory=dict)
    roundtrip: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per way of waiting and Redis placement: the caller's CPU and wall µs per round trip."""
    wall_seconds: float = 0.0

    def median(self, server: str, route: str, variant: str) -> Median | None:
        """The medians of one cell, or None if it was not measured."""
        runs = self.throughput.get((server, route, variant))
        if not runs:
            return None
        return Median(
            statistics.median(r.rps for r in runs),
            statistics.median(r.p50_ms for r in runs),
            statistics.median(r.p99_ms for r in runs),
            sum(r.errors for r in runs),
        )

    def cpu_median(self, server: str, route: str, variant: str) -> Cpu | None:
        """The median CPU per request of one cell (server and store), or None."""
        runs = self.cpu.get((server, route, variant))
        if not runs:
            return None
        stores = [r.store_us for r in runs if r.store_us is not None]
        return Cpu(
            statistics.median(r.server_us for r in runs),
            statistics.median(stores) if stores else None,
        )

    def cpu_ratio(self, server: str, route: str, variant: str, base: str) -> float | None:
        """``base``'s server CPU per request over ``variant``'s: above 1 costs less."""
        mine, theirs = self.cpu_median(server, route, variant), self.cpu_median(server, route, base)
        if mine is None or theirs is None or mine.server_us <= 0:
            return None
        return theirs.server_us / mine.server_us

    def ratio(self, server: str, route: str, variant: str, base: str) -> float | None:
        """req/s of ``variant`` over req/s of ``base``."""
        mine, theirs = self.median(server, route, variant), self.median(server, route, base)
        if mine is None or theirs is None:
            return None
        return mine.rps / theirs.rps


def _table(header: list[str], rows: Iterable[list[str]], align: str = "") -> list[str]:
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _x(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def cpu_summary(results: Results) -> list[str]:
    """The headline: server CPU per request (x Flask cookie), and the store's own CPU."""
    lines: list[str] = []
    for server in SERVERS:
        header = ["variant", *ROUTES, "store µs /read, /incr"]
        rows = []
        for variant in VARIANTS:
            cells = []
            for route in ROUTES:
                cpu = results.cpu_median(server, route, variant)
                ratio = results.cpu_ratio(server, route, variant, "flask-cookie")
                cells.append("—" if cpu is None else f"{cpu.server_us:.0f} ({_x(ratio)})")
            stores = [results.cpu_median(server, r, variant) for r in ("/read", "/incr")]
            store = ", ".join(
                f"{c.store_us:.0f}" for c in stores if c is not None and c.store_us is not None
            )
            if any(cell != "—" for cell in cells):
                rows.append([LABELS[variant], *cells, store])
        if rows:
            lines += ["", f"**{SERVER_LABELS[server]}**", ""]
            lines += _table(header, rows)
    return lines


def throughput_summary(results: Results) -> list[str]:
    """req/s of every variant, with its ratio to Flask's cookie session and to none."""
    header = ["variant"]
    cells = [(s, r) for s in SERVERS for r in ROUTES]
    header += [f"{s} {r}" for s, r in cells]
    rows = []
    for variant in VARIANTS:
        row = [LABELS[variant]]
        for server, route in cells:
            m = results.median(server, route, variant)
            if m is None:
                row.append("—")
                continue
            cookie = results.ratio(server, route, variant, "flask-cookie")
            none = results.ratio(server, route, variant, "none")
            row.append(f"{m.rps:.0f} ({_x(cookie)} / {_x(none)})")
        rows.append(row)
    return _table(header, rows)


def throughput_details(results: Results) -> list[str]:
    """One table per server and route: req/s, p50, p99, ratios, errors."""
    lines: list[str] = []
    for server in SERVERS:
        for route in ROUTES:
            rows = []
            for variant in VARIANTS:
                m = results.median(server, route, variant)
                if m is None:
                    continue
                rows.append(
                    [
                        LABELS[variant],
                        f"{m.rps:.0f}",
                        f"{m.p50_ms:.2f}",
                        f"{m.p99_ms:.2f}",
                        _x(results.ratio(server, route, variant, "flask-cookie")),
                        _x(results.ratio(server, route, variant, "none")),
                        str(m.errors),
                    ]
                )
            if rows:
                lines += ["", f"**{SERVER_LABELS[server]}, `{route}`**", ""]
                header = ["variant", "req/s", "p50 ms", "p99 ms", "x Flask cookie", "x none"]
                lines += _table([*header, "errors"], rows)
    return lines


def lost_table(results: Results) -> list[str]:
    """Distinct keys and increments kept of 100, per server."""
    header = ["variant"]
    for server in SERVERS:
        label = SERVER_LABELS[server]
        header += [f"{label}: keys", f"{label}: incr", f"{label}: incr @locked"]
    rows = []
    for variant in VARIANTS:
        if variant == "none":
            continue
        row = [LABELS[variant]]
        for server in SERVERS:
            lost = results.lost.get((server, variant))
            if lost is None:
                row += ["—", "—", "—"]
                continue
            locked = "—" if lost.locked_increments is None else str(lost.locked_increments)
            row += [str(lost.keys), str(lost.increments), locked]
            if lost.failed:
                row[-3] += f" ({lost.failed} failed)"
        rows.append(row)
    lines = _table(header, rows)
    for (server, variant), lost in results.lost.items():
        if lost.failed:
            lines.append(
                f"\n{LABELS[variant]} under {SERVER_LABELS[server]}: {lost.failed} request(s) "
                f"answered an error, e.g. `{lost.sample.strip()}`"
            )
    return lines


def writes_table(results: Results) -> list[str]:
    """Store writes per 1,000 read-only requests."""
    how = {
        "fs-redis": "Redis dirty counter",
        "sk-redis": "Redis dirty counter",
        "sk-redis-cache": "Redis dirty counter",
        "fs-sqlalchemy": "SQLite row triggers",
        "sk-sqlite": "SQLite row triggers",
        "sk-kv": "row triggers on the service's SQLite",
        "fs-sqlalchemy-postgresql": "PostgreSQL row trigger",
        "sk-postgresql": "PostgreSQL row trigger",
        "fs-memcached": "memcached command counters",
        "sk-memcached": "memcached command counters",
    }
    rows = [
        [LABELS.get(v, v), str(n), str(c), how.get(v, "the store's own count")]
        for v, (n, c) in results.writes.items()
    ]
    header = ["variant", "writes per 1,000 /read", "changes counted creating the sessions"]
    return _table([*header, "counted by"], rows, "lrrl")


def roundtrip_table(results: Results) -> list[str]:
    """What one Redis round trip costs the caller on the server core."""
    rows = [
        [name, f"{f['cpu_us']:.1f}", f"{f['wall_us']:.1f}"] for name, f in results.roundtrip.items()
    ]
    return _table(["waiting for the answer", "caller CPU µs", "wall µs"], rows, "lrr")


def kv_table(results: Results) -> list[str]:
    """The KV service next to redis-benchmark."""
    rows = []
    for name, r in results.kv.items():
        rows.append([f"KV service {name}", f"{r.rps:.0f}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}"])
    for name, b in results.redis_bench.items():
        row = [f"redis-benchmark {name}", f"{b.rps:.0f}", f"{b.p50_ms:.2f}", f"{b.p99_ms:.2f}"]
        rows.append(row)
    return _table(["operation", "req/s", "p50 ms", "p99 ms"], rows)


def growth_table(results: Results) -> list[str]:
    """Load and scan p50 at each size, and the growth from the smallest size."""
    rows = []
    for store, points in results.growth.items():
        first = points[0]
        for p in points:
            rows.append(
                [
                    STORE_LABELS[store],
                    f"{p.size:,}",
                    f"{p.load_p50_ms:.3f}",
                    f"{p.load_p50_ms / first.load_p50_ms:.2f}",
                    f"{p.scan_p50_ms:.3f}",
                    f"{p.scan_p50_ms / first.scan_p50_ms:.2f}",
                    f"{p.loads} / {p.scans}",
                ]
            )
    header = ["store", "sessions", "load p50 ms", "x smallest", "page of 100 p50 ms"]
    return _table([*header, "x smallest", "loads / scans timed"], rows)


@dataclass(frozen=True)
class Verdict:
    """One target, what was measured, and whether it was met."""

    target: str
    measured: str
    met: bool | None


#: SessionKeeper's server-side variants.
SK_SERVER = ("sk-sqlite", "sk-redis", "sk-redis-cache", "sk-kv", "sk-postgresql", "sk-memcached")
#: (variant, route, base, goal): server CPU per request, x ``base`` (above 1 costs less).
CPU_TARGETS = [
    ("sk-redis", "/read", "flask-cookie", 0.9),
    ("sk-redis", "/incr", "flask-cookie", 0.8),
    ("sk-redis-cache", "/read", "flask-cookie", 1.3),
    ("sk-sqlite", "/read", "flask-cookie", 1.1),
    ("sk-sqlite", "/incr", "flask-cookie", 0.95),
    ("sk-kv", "/read", "flask-cookie", 0.8),
    ("sk-kv", "/incr", "flask-cookie", 0.7),
    *[(v, "/read", "fs-redis", 1.5) for v in SK_SERVER],
    *[(v, "/incr", "fs-redis", 1.2) for v in SK_SERVER],
]
#: Where we are going: every server store at or under Flask cookie's CPU, the cache at 1.6x.
CPU_AIMS = [
    *[(v, route, "flask-cookie", 1.0) for v in SK_SERVER for route in ROUTES],
    ("sk-redis-cache", "/read", "flask-cookie", 1.6),
]
#: (variant, route, most µs): the store process's own CPU per request.
STORE_CPU_TARGETS = [("sk-kv", "/read", 50), ("sk-kv", "/incr", 120)]


#: The server the CPU targets are judged on: the measurement the targets were set with
#: (Granian, 1 worker, pinned). gunicorn's sync workers add a fixed cost of their own to
#: every request, which pulls every ratio towards 1; its figure is shown beside.
JUDGED_ON = "granian"


def cpu_verdicts(results: Results, goals: list[tuple[str, str, str, float]]) -> list[Verdict]:
    """Server CPU per request against ``goals``, judged on :data:`JUDGED_ON`."""
    out = []
    for variant, route, base, goal in goals:
        target = f"{LABELS[variant]} ≥ {goal:g}x {LABELS[base]} on `{route}` (server CPU)"
        ratios = {server: results.cpu_ratio(server, route, variant, base) for server in SERVERS}
        judged = ratios.get(JUDGED_ON)
        if judged is None:
            out.append(Verdict(target, "not measured", None))
            continue
        others = [f"{s} {r:.2f}x" for s, r in ratios.items() if s != JUDGED_ON and r is not None]
        measured = f"{judged:.2f}x" + (f" ({', '.join(others)})" if others else "")
        out.append(Verdict(target, measured, judged >= goal))
    return out


def verdicts(results: Results) -> list[Verdict]:
    """Check every target of the issue against this run."""
    out = cpu_verdicts(results, CPU_TARGETS)
    for variant, route, goal_us in STORE_CPU_TARGETS:
        target = f"{LABELS[variant]}: the store's own CPU ≤ {goal_us} µs per `{route}`"
        spent = [
            cpu.store_us
            for server in SERVERS
            if (cpu := results.cpu_median(server, route, variant)) and cpu.store_us is not None
        ]
        if not spent:
            out.append(Verdict(target, "not measured", None))
            continue
        out.append(Verdict(target, f"highest {max(spent):.0f} µs", max(spent) <= goal_us))
    for variant in SK_SERVER:
        if variant in results.writes:
            n = results.writes[variant][0]
            target = f"{LABELS[variant]}: 0 store writes per 1,000 read-only requests"
            out.append(Verdict(target, f"{n}", n == 0))
    for store, points in results.growth.items():
        if len(points) < 2:
            continue
        first, last = points[0], points[-1]
        span = f"{first.size:,} → {last.size:,}"
        load = last.load_p50_ms / first.load_p50_ms
        scan = last.scan_p50_ms / first.scan_p50_ms
        label = STORE_LABELS[store]
        out.append(Verdict(f"{label}: load p50 grows ≤ 1.3x", f"{load:.2f}x ({span})", load <= 1.3))
        out.append(Verdict(f"{label}: page of 100 ≤ 1.3x", f"{scan:.2f}x ({span})", scan <= 1.3))
    pairs = [("GET /<key>", "GET", 0.12), ("POST /", "SET", 0.08)]
    for kv_name, redis_name, goal in pairs:
        kv, rb = results.kv.get(kv_name), results.redis_bench.get(redis_name)
        target = f"KV service {kv_name} ≥ {goal:g}x redis-benchmark {redis_name}"
        if kv is None or rb is None:
            out.append(Verdict(target, "not measured", None))
            continue
        ratio = kv.rps / rb.rps
        out.append(Verdict(target, f"{ratio:.3f}x", ratio >= goal))
    return out


def verdict_table(results: Results) -> list[str]:
    """The targets as a table."""
    note = (
        f"Server CPU targets are judged on {SERVER_LABELS[JUDGED_ON]}, pinned (the measurement "
        "they were set with); the other server's ratio is in brackets."
    )
    return [note, "", *_verdict_rows(verdicts(results))]


def aims_table(results: Results) -> list[str]:
    """Where we are going, as a table."""
    return _verdict_rows(cpu_verdicts(results, CPU_AIMS))


def _verdict_rows(found: list[Verdict]) -> list[str]:
    marks = {True: "met", False: "**missed**", None: "—"}
    rows = [[v.target, v.measured, marks[v.met]] for v in found]
    return _table(["target", "measured", ""], rows, "lll")


METHOD = """\
- Servers: Granian `--interface wsgi --workers 1` (its default thread pool) and gunicorn
  `--workers 2 --worker-class sync`, each serving `bench/app.py` (same routes for every
  variant), pinned to core 0 with `taskset`; wrk, redis-server, the KV service and this
  driver run on core 1. CPU per request: the app server's process tree (every thread of
  the server and its workers, from `/proc/<pid>/task/*/schedstat`, nanoseconds on the
  CPU) over each wrk run, divided by the requests wrk completed; the store's own process
  (redis-server, the KV service) likewise. Other jobs slow a run but add nothing to its
  CPU, so these figures hold where req/s swings. All variants run side by side on their
  own ports; each wrk run takes the next variant in turn (A B C ... A B C ...), medians
  over the rounds.
- Load: `wrk -t1` over a pool of session cookies made by one `/incr` each, rotated per
  request by a Lua script; p50/p99 from wrk's latency histogram (Lua `done()` hook).
  "none" opens no session (it gets the Flask cookie pool's cookies and never reads them).
- Configuration: every library at its defaults. Flask-Session 0.8: `SESSION_PERMANENT=True`
  and `SESSION_REFRESH_EACH_REQUEST=True` (so every request with a cookie reads and writes
  the store), redis-py with hiredis, Flask-SQLAlchemy on a SQLite file. SessionKeeper:
  signed session ids, idle timeout 30 min with a touch at most once a minute, SQLite in WAL
  with `synchronous=NORMAL`, the KV service (`sessionkeeper kv serve`, SQLite) reached over
  pooled keep-alive connections.
- Lost updates: 16 client threads share one cookie jar (each request sends the jar's
  cookie; a `Set-Cookie` replaces it) and send 100 requests on one session: `/put/<k>` with
  100 distinct keys, then 100 `/incr`, then (SessionKeeper's server stores) 100 `/incr`
  under `@locked`; the table says how many keys, or how much of the count, survived.
- Store writes: 1,000 `/read` on 64 fresh sessions (Granian), counted by the store:
  temporary SQLite triggers on the session table (every row inserted, updated or deleted,
  by any process), or Redis's own change counter (`rdb_changes_since_last_save`).
- KV service alone: `sessionkeeper kv serve` (Granian, SQLite) and redis-server pinned to
  core 0; wrk and `redis-benchmark -c <same connections> -d 100 -r 100000` on core 1. GET
  and listing read 1,000 stored keys; POST overwrites them in turn.
- Growth: sessions bulk-loaded in each store's own format (one SQL transaction; batched
  Lua on Redis, index included), then timed in this process through the Store API:
  `get` of random stored sessions, and `scan("session:", after=<random key>, limit=100)`,
  each checked to return the full page. The KV service serves the same SQLite file.
"""


def render(results: Results) -> str:
    """The whole Markdown report."""
    meta = results.meta
    lines = [f"# SessionKeeper benchmarks — {meta['date']} on {meta['host']}", ""]
    lines += [f"- {k}: {v}" for k, v in meta.items() if k not in ("date", "host")]
    lines += [f"- {k}: {v}" for k, v in results.settings.items()]
    lines += [f"- wall time: {results.wall_seconds / 60:.1f} min", ""]
    sections = [
        ("Targets", verdict_table(results), True),
        ("Where we are going", aims_table(results), bool(results.cpu)),
        (
            "Server CPU per request, µs (x Flask cookie: its µs over the variant's; "
            "higher is better), medians of the rounds",
            cpu_summary(results),
            bool(results.cpu),
        ),
        (
            "Throughput (secondary: it swings with other jobs on the machine): req/s "
            "(x Flask cookie / x none), medians of the rounds",
            throughput_summary(results),
            bool(results.throughput),
        ),
        ("Throughput in detail", throughput_details(results), bool(results.throughput)),
        (
            "Lost updates: kept of 100 concurrent requests on one session",
            lost_table(results),
            bool(results.lost),
        ),
        ("Store writes per 1,000 read-only requests", writes_table(results), bool(results.writes)),
        (
            "One round trip to Redis, as the caller on the server core pays it (GET of a "
            "missing key, one connection)",
            roundtrip_table(results),
            bool(results.roundtrip),
        ),
        (
            "The KV service alone, next to redis-benchmark",
            kv_table(results),
            bool(results.kv or results.redis_bench),
        ),
        (
            "Growth: session load and prefix listing as the store fills",
            growth_table(results),
            bool(results.growth),
        ),
    ]
    for title, body, measured in sections:
        if measured:
            lines += [f"## {title}", "", *body, ""]
    lines += ["## How it was measured", "", METHOD]
    return "\n".join(lines).rstrip() + "\n"
