"""The KV service alone (GET, POST, prefix listing) next to ``redis-benchmark`` GET/SET.

Both servers are pinned to the server core and both load generators to the
other, with the same number of connections. The KV service keeps its data in
SQLite (WAL, synchronous=NORMAL: an acknowledged POST survives a crash of the
process); Redis runs without persistence, as ``redis-benchmark`` is usually quoted.
"""

from __future__ import annotations

import csv
import http.client
import io
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from load import Spec, WrkResult, wrk
from procs import CLIENT_CPU

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
