"""Drive ``wrk`` with a Lua script that rotates over a list of prepared requests.

Each request of the list (one per session cookie, or one per key) is formatted
once when the wrk thread starts; ``request()`` hands them out in turn, and a
``done()`` hook prints requests, duration and the latency percentiles as JSON.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from procs import CLIENT_CPU

LUA = """
local specs = {%(specs)s}
local reqs = {}
local n = 0
local i = 0

function init(args)
  for _, s in ipairs(specs) do
    reqs[#reqs + 1] = wrk.format(s[1], s[2], s[3], s[4])
  end
  n = #reqs
end

function request()
  i = i + 1
  return reqs[(i %% n) + 1]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, '
    .. '"socket_errors": %%d, "status_errors": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


@dataclass(frozen=True)
class Spec:
    """One request: method, path, headers and body."""

    method: str
    path: str
    headers: dict[str, str]
    body: str | None = None


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def _lua_string(text: str) -> str:
    # JSON's escapes of printable ASCII (\\ and \") are Lua's too.
    if not text.isascii():
        raise ValueError("wrk specs must be ASCII")
    return json.dumps(text)


def lua_script(specs: list[Spec]) -> str:
    """The wrk script that sends ``specs`` in turn."""
    items = []
    for spec in specs:
        pairs = spec.headers.items()
        headers = ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in pairs)
        body = "nil" if spec.body is None else _lua_string(spec.body)
        items.append(
            f"{{{_lua_string(spec.method)}, {_lua_string(spec.path)}, {{{headers}}}, {body}}}"
        )
    return LUA % {"specs": ",\n".join(items)}


def wrk(
    port: int,
    specs: list[Spec],
    *,
    duration: float,
    connections: int,
    script: Path,
    cpu: str = CLIENT_CPU,
) -> WrkResult:
    """Run wrk (1 thread, ``connections`` connections) for ``duration`` seconds on ``cpu``."""
    script.write_text(lua_script(specs))
    argv = ["taskset", "-c", cpu, "wrk", "-t1", f"-c{connections}", f"-d{round(duration)}s"]
    argv += ["--timeout", "10s", "-s", str(script), f"http://127.0.0.1:{port}{specs[0].path}"]
    done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=duration + 60)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH "):
            data = json.loads(line[6:])
            break
    else:
        raise RuntimeError(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")
    seconds = data["duration_us"] / 1e6
    return WrkResult(
        rps=data["requests"] / seconds,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        requests=data["requests"],
        errors=data["socket_errors"] + data["status_errors"],
    )
