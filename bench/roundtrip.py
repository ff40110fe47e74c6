"""What one round trip to Redis costs the caller's CPU: the kernel's share of a store read.

``python bench/roundtrip.py PORT [--n 20000]`` sends ``GET`` to the Redis on
``PORT`` over one connection, ``--n`` times each way, and prints JSON: the
caller's CPU and wall time per round trip, waiting for the answer in the kernel
(``recv`` blocks: the thread sleeps and is woken) and by polling (``recv`` with
``MSG_DONTWAIT`` until the answer is there: the thread never sleeps). ``make
bench`` runs it pinned to the server core, with Redis on the other core and then
on the same one, so the report shows how much of a store read is the wake-up.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from collections.abc import Callable

GET = b"*2\r\n$3\r\nGET\r\n$10\r\nbench:none\r\n"  # a missing key: "$-1\r\n"


def per_call(call: Callable[[], object], n: int) -> dict[str, float]:
    """Microseconds of this process's CPU and of wall time per call, after a warm-up."""
    for _ in range(min(n, 2000)):
        call()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(n):
        call()
    return {
        "cpu_us": (time.process_time() - cpu) * 1e6 / n,
        "wall_us": (time.perf_counter() - wall) * 1e6 / n,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--n", type=int, default=20000)
    args = parser.parse_args()
    sock = socket.create_connection(("127.0.0.1", args.port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = bytearray(1024)

    def blocking() -> int:
        sock.sendall(GET)
        return sock.recv_into(buf)

    def polling() -> int:
        sock.sendall(GET)
        while True:
            try:
                return sock.recv_into(buf, 0, socket.MSG_DONTWAIT)
            except BlockingIOError:
                continue

    blocking()
    if bytes(buf[:5]) != b"$-1\r\n":
        raise SystemExit(f"unexpected answer from port {args.port}: {bytes(buf[:20])!r}")
    result = {"blocking": per_call(blocking, args.n), "polling": per_call(polling, args.n)}
    sock.close()
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
