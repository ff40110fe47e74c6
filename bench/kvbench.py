"""The KV service alone (GET, POST, prefix listing) next to ``redis-benchmark`` GET/SET.

Both servers are pinned to the server core and both load generators to the
other, with the same number of connections. The KV service keeps its data in
SQLite (WAL, synchronous=NORMAL: an acknowledged POST survives a crash of the
process); Redis runs without persistence, as ``redis-benchmark`` is usually quoted.

``python bench/kvbench.py [--duration 4] [--rounds 3] [--connections 16]`` runs
the service alone and prints its own CPU per request (its process tree's, over
each wrk run) for the requests ``HttpStore`` sends, medians of the rounds, next
to Granian serving a WSGI app that answers a fixed body (the server's floor).
"""

from __future__ import annotations

import argparse
import csv
import http.client
import io
import json
import statistics
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from load import Spec, WrkResult, wrk
from procs import (
    BIN,
    CLIENT_CPU,
    SERVER_CPU,
    cpu_seconds,
    free_port,
    http_ok,
    start,
    start_kv,
    wait_until,
)

from sessionkeeper.kv.server import THREADS

KEYS = 1000
VALUE = {"c": 1767225600.0, "d": {"n": 1, "user": "user-42", "cart": [1, 2, 3]}}
JSON = {"Content-Type": "application/json", "Accept": "application/json"}


def key(i: int) -> str:
    """The ``i``-th benchmark key."""
    return f"bench:{i:06d}"


def preload(port: int) -> None:
    """Store the keys the GET and listing runs read, one POST each."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for i in range(KEYS):
            conn.request("POST", "/", json.dumps({key(i): VALUE}), JSON)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"KV preload answered {response.status}")
    finally:
        conn.close()


def kv_runs(port: int, *, duration: float, connections: int, workdir: Path) -> dict[str, WrkResult]:
    """GET, POST and prefix-listing runs against the KV service on ``port``."""
    runs = {
        "GET /<key>": [Spec("GET", f"/{key(i)}", JSON) for i in range(KEYS)],
        "POST /": [Spec("POST", "/", JSON, json.dumps({key(i): VALUE})) for i in range(KEYS)],
        "GET /?prefix= (100 keys)": [
            Spec("GET", f"/?prefix=bench:&limit=100&after={key(i)}", JSON)
            for i in range(0, KEYS - 100, 7)
        ],
    }
    return {
        name: wrk(
            port,
            specs,
            duration=duration,
            connections=connections,
            script=workdir / "kv-run.lua",
        )
        for name, specs in runs.items()
    }


@dataclass(frozen=True)
class RedisBench:
    """One ``redis-benchmark`` test: requests/s and p99 (ms)."""

    rps: float
    p50_ms: float
    p99_ms: float


def redis_benchmark(port: int, *, connections: int, requests: int) -> dict[str, RedisBench]:
    """Run ``redis-benchmark -t get,set`` with 100-byte values over 100,000 random keys."""
    argv = ["taskset", "-c", CLIENT_CPU, "redis-benchmark", "-h", "127.0.0.1", "-p", str(port)]
    argv += ["-c", str(connections), "-n", str(requests), "-d", "100", "-r", "100000"]
    argv += ["-t", "set,get", "--csv"]
    done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=300)
    results = {}
    for row in csv.DictReader(io.StringIO(done.stdout)):
        results[row["test"]] = RedisBench(
            float(row["rps"]), float(row["p50_latency_ms"]), float(row["p99_latency_ms"])
        )
    return results


#: A WSGI app that answers a fixed JSON body: what Granian costs before any of the service.
FLOOR_APP = """
def app(environ, start_response):
    body = b'{"bench:000001":{"c":1767225600.0,"d":{"n":1}}}'
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
"""


def session_specs() -> dict[str, list[Spec]]:
    """The requests ``HttpStore`` sends: a read by ``?key=``, a write with a TTL."""
    accept = {"Accept": "application/json"}
    return {
        "GET /?key=K": [
            Spec("GET", "/?key=" + quote(key(i), safe=""), accept) for i in range(KEYS)
        ],
        "POST /?ttl=T": [
            Spec("POST", "/?ttl=1800.0", JSON, json.dumps({key(i): VALUE}, separators=(",", ":")))
            for i in range(KEYS)
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="The KV service's own CPU per request.")
    parser.add_argument("--duration", type=float, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kvbench-") as tmp:
        workdir = Path(tmp)
        (workdir / "floor_app.py").write_text(FLOOR_APP)
        port = free_port()
        argv = [str(BIN / "granian"), "--interface", "wsgi", "--workers", "1"]
        argv += ["--blocking-threads", str(THREADS), "--host", "127.0.0.1", "--port", str(port)]
        argv += ["--working-dir", str(workdir), "--log-level", "error", "floor_app:app"]
        floor = start("floor", argv, port=port, workdir=workdir, cpu=SERVER_CPU)
        kv = start_kv("kv", workdir / "kv.sqlite3", workdir, SERVER_CPU)
        try:
            wait_until(floor, http_ok(port, "/"))
            preload(kv.port)
            runs = {"Granian floor (fixed answer)": (floor, [Spec("GET", "/", {})])}
            runs |= {name: (kv, specs) for name, specs in session_specs().items()}
            cpu: dict[str, list[float]] = {name: [] for name in runs}
            for _ in range(args.rounds):
                for name, (proc, specs) in runs.items():
                    before = cpu_seconds(proc.popen.pid)
                    result = wrk(
                        proc.port,
                        specs,
                        duration=args.duration,
                        connections=args.connections,
                        script=workdir / "run.lua",
                    )
                    spent = cpu_seconds(proc.popen.pid) - before
                    if result.errors:
                        raise RuntimeError(f"{name}: {result.errors} errors")
                    cpu[name].append(spent / result.requests * 1e6)
            for name, values in cpu.items():
                print(f"{name:32} {statistics.median(values):6.1f} us/request (service CPU)")
        finally:
            kv.stop()
            floor.stop()


if __name__ == "__main__":
    main()
