"""Profile one variant under load with py-spy: where a request's time goes.

``python bench/pyspy.py sk-redis /read`` serves the variant under Granian
(1 worker, pinned to the server core), loads it with wrk over 64 sessions, samples
the worker with ``py-spy record --gil --format raw``, and prints the functions
holding the most samples: inclusive (anywhere on the stack) and self (at the top).
With one worker on one core, the GIL holder's time is what bounds requests/s.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from app import VARIANTS
from client import make_sessions
from load import Spec, lua_script
from procs import BIN, CLIENT_CPU, start_app, start_kv, start_redis, wait_app


def summarise(raw: Path, top: int) -> str:
    """Inclusive and self sample shares per function, from py-spy's collapsed stacks."""
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = [f for f in stack.split(";") if not f.startswith("process ")]
        if not frames:
            continue  # a thread outside Python (the server's own)
        total += n
        leaf[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    lines = [f"{total} samples", "", "inclusive:"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in inclusive.most_common(top)]
    lines += ["", "self:"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in leaf.most_common(top)]
    return "\n".join(lines)


def main() -> int:
    """Serve, load and sample one variant; print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", choices=VARIANTS)
    parser.add_argument("route", choices=("/ping", "/read", "/incr"))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument(
        "--waiting", action="store_true", help="count threads waiting on I/O too, not only the GIL"
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="sessionkeeper-profile-"))
    started = []
    try:
        url = ""
        if args.variant in ("fs-redis", "sk-redis"):
            redis_proc = start_redis(workdir)
            started.append(redis_proc)
            url = f"redis://127.0.0.1:{redis_proc.port}/0"
        elif args.variant in ("fs-sqlalchemy", "sk-sqlite"):
            url = f"sqlite:///{workdir / 'profile.sqlite3'}"
        elif args.variant == "sk-kv":
            kv = start_kv("kv", workdir / "kv.sqlite3", workdir, CLIENT_CPU)
            started.append(kv)
            url = f"http://127.0.0.1:{kv.port}"
        app = start_app("granian", args.variant, url, workdir)
        started.append(app)
        wait_app(app)
        cookies = make_sessions(app.port, 64)
        script = workdir / "profile.lua"
        script.write_text(lua_script([Spec("GET", args.route, {"Cookie": c}) for c in cookies]))
        wrk = ["taskset", "-c", CLIENT_CPU, "wrk", "-t1", "-c16", f"-d{args.seconds + 2}s"]
        wrk += ["-s", str(script), f"http://127.0.0.1:{app.port}{args.route}"]
        load = subprocess.Popen(wrk, stdout=subprocess.DEVNULL)
        raw = workdir / "profile.txt"
        spy = [str(BIN / "py-spy"), "record", "--pid", str(app.popen.pid), "--subprocesses"]
        spy += ["--nolineno", "--nonblocking", "--rate", "250", "--format", "raw"]
        spy += [] if args.waiting else ["--gil"]
        spy += ["--duration", str(args.seconds), "--output", str(raw)]
        subprocess.run(spy, check=True, capture_output=True)
        load.wait()
        print(f"# {args.variant} {args.route} under granian 1 worker, wrk -c16\n")
        print(summarise(raw, args.top))
    finally:
        for proc in reversed(started):
            proc.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
