"""Build hook: put the paywall lab's React client into the wheel.

The metadata lives in pyproject.toml. This file only makes ``build_py`` (and
``sdist``) build the client when its packaged copy is missing and the client's
sources are here: ``npm ci`` (when client/node_modules is missing or older than
the lockfile) and ``npm run build``, which writes client/dist and copies it into
src/sessionlab/paywall/client. Without the sources, or without npm, the package
builds without the client and the lab's home page says how to build it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

ROOT = Path(__file__).resolve().parent
CLIENT_SOURCES = ROOT / "client"
PACKAGED_CLIENT = ROOT / "src" / "sessionlab" / "paywall" / "client"


def build_client(sources: Path = CLIENT_SOURCES, packaged: Path = PACKAGED_CLIENT) -> bool:
    """Build the client into ``packaged`` unless it is there; return whether it is there."""
    if (packaged / "index.html").is_file():
        return True
    if not (sources / "package.json").is_file():
        _say(f"no {packaged / 'index.html'} and no client sources: building without the client")
        return False
    npm = shutil.which("npm")
    if npm is None:
        _say("npm is not installed: building without the paywall's client")
        return False
    installed = sources / "node_modules" / ".installed"
    lockfile = sources / "package-lock.json"
    if not installed.is_file() or installed.stat().st_mtime < lockfile.stat().st_mtime:
        _say("installing the client's packages (npm ci)")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=sources, check=True)  # noqa: S603
        installed.touch()
    _say("building the client (npm run build)")
    subprocess.run([npm, "run", "build"], cwd=sources, check=True)  # noqa: S603
    if not (packaged / "index.html").is_file():
        raise SystemExit(f"`npm run build` did not write {packaged / 'index.html'}")
    return True


def _say(message: str) -> None:
    print(f"sessionkeeper build: {message}", file=sys.stderr)


class BuildPyWithClient(build_py):
    """Build the client before collecting package data (not for editable installs)."""

    def run(self) -> None:
        if not self.editable_mode:
            build_client()
            self.__dict__.pop("data_files", None)  # collect package data again, client included
        super().run()


class SdistWithClient(sdist):
    """Ship the built client in the source distribution too."""

    def run(self) -> None:
        build_client()
        super().run()


if __name__ == "__main__":
    setup(cmdclass={"build_py": BuildPyWithClient, "sdist": SdistWithClient})
