"""The wheel: two packages, the paywall's client inside, and a lab that runs from anywhere.

The wheel is built from a copy of the sources (the work tree is left alone) and
installed into a fresh virtualenv; the lab then runs from an empty folder.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from redis_servers import free_port, wait_until

REPO = Path(__file__).resolve().parents[1]
PACKAGED_CLIENT = REPO / "src" / "sessionlab" / "paywall" / "client"
SCRIPT = re.compile(r"<script\b[^>]*\ssrc=\"([^\"]+)\"")
#: Variables of this test run that must not reach the installed lab.
LEAKING = ("PYTHONPATH", "VIRTUAL_ENV", "SESSIONLAB_INSTANCE_PATH", "PYTHONHOME")


def _missing(message: str) -> None:
    """Fail under CI, where every tool must be there; skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _run(*argv: str | Path, timeout: float = 120, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(arg) for arg in argv], capture_output=True, text=True, timeout=timeout, cwd=cwd
    )
    assert done.returncode == 0, f"{argv} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel from a copy of what a checkout holds, the client built by `make`."""
    if not (PACKAGED_CLIENT / "index.html").is_file():
        _missing(f"{PACKAGED_CLIENT} is not built: run `make client`")
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(REPO / name, source / name)
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "instance")
    shutil.copytree(REPO / "src", source / "src", ignore=skip)
    out = tmp_path_factory.mktemp("wheel")
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", out, source)
    (built,) = out.glob("sessionkeeper-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel and its ``demo`` extra installed from the index."""
    folder = tmp_path_factory.mktemp("venv")
    _run(sys.executable, "-m", "venv", "--without-pip", folder)
    python = folder / "bin" / "python"
    pip = (sys.executable, "-m", "pip", "--python", python, "install", "--quiet")
    _run(*pip, "--disable-pip-version-check", f"{wheel}[demo]", timeout=300)
    return folder


def test_the_wheel_holds_the_two_packages_and_the_client(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        commands = archive.read(entry_points).decode()
    top = {name.split("/")[0] for name in names if ".dist-info/" not in name}
    assert top == {"sessionkeeper", "sessionlab"}
    assert "sessionlab/paywall/client/index.html" in names
    assert any(re.fullmatch(r"sessionlab/paywall/client/assets/.+\.js", n) for n in names)
    assert "sessionlab/paywall/migrations/env.py" in names
    assert "demo = sessionlab.demo.cli:demo" in commands


@pytest.fixture
def installed_lab(venv: Path, tmp_path: Path) -> Iterator[str]:
    """Run ``python -m sessionlab.paywall`` of the virtualenv from an empty folder."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in LEAKING and not k.startswith("FLASK_")}
    work = tmp_path / "work"
    work.mkdir()
    with open(tmp_path / "lab.log", "wb") as log:
        process = subprocess.Popen(
            [venv / "bin" / "python", "-m", "sessionlab.paywall", "--port", str(port)],
            cwd=work,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            pytest.fail(f"the lab exited:\n{(tmp_path / 'lab.log').read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    try:
        wait_until(ready, "the installed paywall lab", timeout=90)
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def test_the_installed_lab_serves_its_client_and_keeps_data_in_the_working_folder(
    installed_lab: str, venv: Path, tmp_path: Path
) -> None:
    with urllib.request.urlopen(f"{installed_lab}/", timeout=10) as answer:
        page = answer.read().decode()
    found = SCRIPT.search(page)
    assert found is not None, f"no client script in:\n{page}"
    script_url = urllib.parse.urljoin(f"{installed_lab}/", found.group(1))
    with urllib.request.urlopen(script_url, timeout=10) as answer:
        assert answer.status == 200 and "javascript" in answer.headers["Content-Type"]
    instance = tmp_path / "work" / "instance" / "paywall"
    assert (instance / "secret-key").is_file() and (instance / "paywall.db").is_file()
    assert not [p for p in venv.rglob("instance") if p.is_dir()]


def test_the_installed_script_has_demo_through_its_entry_point(venv: Path) -> None:
    script = venv / "bin" / "sessionkeeper"
    assert re.search(r"^\s+demo\s", _run(script, "--help"), re.MULTILINE)
    usage = _run(script, "demo", "--help")
    assert "Usage: sessionkeeper demo" in usage
    assert all(option in usage for option in ("--port", "--kv-port", "--instance-path"))


@pytest.fixture
def setup_py() -> ModuleType:
    """``setup.py`` as a module (it calls ``setup()`` only when run as a script)."""
    spec = importlib.util.spec_from_file_location("sessionkeeper_setup", REPO / "setup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_build_hook_builds_the_client_only_when_missing(
    setup_py: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources, packaged, bin_dir = tmp_path / "client", tmp_path / "packaged", tmp_path / "bin"
    sources.mkdir()
    bin_dir.mkdir()
    (sources / "package.json").write_text("{}")
    (sources / "package-lock.json").write_text("{}")
    calls = tmp_path / "calls"
    npm = bin_dir / "npm"  # writes what `npm run build` would, and logs every call
    npm.write_text(
        f"#!{sys.executable}\nimport pathlib, sys\n"
        f"with open({str(calls)!r}, 'a') as log: log.write(' '.join(sys.argv[1:3]) + '\\n')\n"
        "if sys.argv[1] == 'ci': pathlib.Path('node_modules').mkdir()\n"
        f"else: (p := pathlib.Path({str(packaged)!r})).mkdir(); (p / 'index.html').touch()\n"
    )
    npm.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    def build() -> tuple[bool, list[str]]:
        built = setup_py.build_client(sources, packaged)
        logged = calls.read_text().splitlines() if calls.exists() else []
        calls.unlink(missing_ok=True)
        return built, logged

    assert build() == (True, ["ci --no-audit", "run build"])
    assert build() == (True, [])  # built already
    shutil.rmtree(packaged)
    assert build() == (True, ["run build"])  # packages installed already
    shutil.rmtree(packaged)
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert build() == (False, [])  # no npm: a wheel without the client
    assert setup_py.build_client(tmp_path / "no-sources", packaged) is False
