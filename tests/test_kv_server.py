"""``sessionkeeper kv serve`` as a real process: what its production server must not do."""

from __future__ import annotations

import http.client
from pathlib import Path
from urllib.parse import urlsplit

from live_processes import kv_service


def test_idle_keep_alive_connections_do_not_lock_out_new_clients(tmp_path: Path) -> None:
    service = kv_service(tmp_path, f"sqlite:///{tmp_path / 'kv.db'}").start()
    address = urlsplit(service.url)
    assert address.hostname is not None and address.port is not None
    idle: list[http.client.HTTPConnection] = []
    try:
        for _ in range(40):  # more than two app processes' connection pools
            conn = http.client.HTTPConnection(address.hostname, address.port, timeout=5)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            idle.append(conn)
        newcomer = http.client.HTTPConnection(address.hostname, address.port, timeout=5)
        newcomer.request(
            "POST", "/", body=b'{"k": 1}', headers={"Content-Type": "application/json"}
        )
        response = newcomer.getresponse()
        assert response.status == 200 and response.read() == b'{"k":1}'
        newcomer.close()
    finally:
        for conn in idle:
            conn.close()
        service.stop()
