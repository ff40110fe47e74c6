"""CPU per request in-process: the benchmark app called as WSGI, no server, no socket.

``python bench/inproc.py sk-sqlite flask-cookie [--route /read] [--n 20000] [--profile]``

Each variant's app (``bench/app.py``) gets 64 sessions made by ``/incr``, then
``--n`` requests rotating over them; the process CPU time per request is printed
(a store server, where the variant needs one, runs elsewhere: pass its URL in
``BENCH_URL``). ``--profile`` prints the 25 functions with the most own time.
Small steps show here that a loaded machine hides in a wrk run.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app import create_app
from flask import Flask


def _call(app: Flask, path: str, cookie: str | None) -> tuple[str, list[tuple[str, str]]]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "REMOTE_ADDR": "127.0.0.1",
    }
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> None:
        seen["status"], seen["headers"] = status, headers

    body = app(environ, start_response)
    for _ in body:
        pass
    getattr(body, "close", lambda: None)()
    return seen["status"], seen["headers"]


def sessions(app: Flask, count: int) -> list[str]:
    """Make ``count`` sessions with ``/incr``; return their ``Cookie`` headers."""
    cookies = []
    for _ in range(count):
        status, headers = _call(app, "/incr", None)
        assert status.startswith("200"), status
        values = [v.split(";", 1)[0] for k, v in headers if k == "Set-Cookie"]
        cookies.append("; ".join(values))
    return cookies


def measure(app: Flask, route: str, cookies: list[str], n: int) -> float:
    """Microseconds of process CPU per request."""
    run: Callable[[int], None] = lambda i: None  # noqa: E731
    run = lambda i: _call(app, route, cookies[i % len(cookies)]) and None  # noqa: E731
    for i in range(min(n, 500)):
        run(i)
    began = time.process_time()
    for i in range(n):
        run(i)
    return (time.process_time() - began) * 1e6 / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+")
    parser.add_argument("--route", default="/read")
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="sessionkeeper-inproc-"))
    given_url = os.environ.get("BENCH_URL")
    for variant in args.variants:
        if variant == "sk-sqlite" or not given_url:
            os.environ["BENCH_URL"] = f"sqlite:///{workdir / (variant + '.sqlite3')}"
        else:
            os.environ["BENCH_URL"] = given_url
        app = create_app(variant)
        cookies = sessions(app, 64)
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
        us = measure(app, args.route, cookies, args.n)
        print(f"{variant:14} {args.route:6} {us:7.1f} us/request")
        if args.profile:
            profiler.disable()
            stats = pstats.Stats(profiler, stream=sys.stdout)
            stats.sort_stats("tottime").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
