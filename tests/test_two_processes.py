"""Two app processes on different ports sharing one store see each other's sessions.

Cookies are per host, not per port, so one browser logged in on one process is logged
in on the other; that holds when the store is one Redis, or one KV service.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

import pytest

from live_processes import LiveProcess, kv_service, session_app


@pytest.fixture(params=[pytest.param("redis", marks=pytest.mark.redis), "kv-service"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of one store both app processes use."""
    if request.param == "redis":
        yield request.getfixturevalue("redis_server").fresh_url()
        return
    kv = kv_service(tmp_path / "kv", f"sqlite:///{tmp_path / 'kv' / 'kv.db'}").start()
    try:
        yield kv.url
    finally:
        kv.stop()


@pytest.fixture
def apps(shared_store: str, tmp_path: Path) -> Iterator[list[LiveProcess]]:
    processes = [session_app(tmp_path / f"app{i}", shared_store, "shared") for i in (1, 2)]
    try:
        for process in processes:
            process.launch()
        for process in processes:
            process.wait_ready()
        yield processes
    finally:
        for process in processes:
            process.stop()


def call(
    opener: urllib.request.OpenerDirector, url: str, form: dict[str, str] | None = None
) -> str:
    data = None if form is None else urlencode(form).encode()
    with opener.open(url, data, timeout=10) as response:
        text: str = response.read().decode()
        return text


def test_log_in_on_one_process_be_logged_in_on_the_other(apps: list[LiveProcess]) -> None:
    first, second = apps
    assert first.port != second.port
    cookies = CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies))

    assert call(browser, f"{first.url}/login", {"user": "ada"}) == "logged in"
    assert call(browser, f"{second.url}/whoami") == "ada"
    stolen = "; ".join(f"{cookie.name}={cookie.value}" for cookie in cookies)

    assert call(browser, f"{second.url}/logout", {}) == "logged out"
    assert call(browser, f"{first.url}/whoami") == "anonymous"
    replay = urllib.request.build_opener()
    replay.addheaders = [("Cookie", stolen)]
    assert call(replay, f"{first.url}/whoami") == "anonymous"  # destroyed in the store
