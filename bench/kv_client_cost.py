"""Client CPU per ``HttpStore.get`` against a real ``sessionkeeper kv serve``.

``python bench/kv_client_cost.py`` starts the service (memory store) on a free
port, then times 5 x 2,000 gets in this process with ``time.process_time`` (the
client's CPU, not the service's) and prints the minimum and median per get.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import time

from sessionkeeper.errors import StoreError
from sessionkeeper.stores.http import HttpStore


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> None:
    port = free_port()
    command = [sys.executable, "-m", "sessionkeeper", "kv", "serve", "--port", str(port)]
    service = subprocess.Popen(
        [*command, "--store", "memory://"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        store = HttpStore(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        while True:
            try:
                store.set("k", b'{"n":1}')
                break
            except StoreError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        for _ in range(300):
            store.get("k")
        runs = []
        for _ in range(5):
            started = time.process_time()
            for _ in range(2000):
                store.get("k")
            runs.append((time.process_time() - started) / 2000 * 1e6)
        median = statistics.median(runs)
        print(f"client CPU per get: min {min(runs):.0f} us, median {median:.0f} us")
        store.close()
    finally:
        os.killpg(service.pid, signal.SIGTERM)
        service.wait()


if __name__ == "__main__":
    main()
