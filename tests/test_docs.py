"""The documentation site: it builds without a warning, its samples run, and its generated
pages hold everything the code defines (configuration keys, routes, commands, public names).
"""

from __future__ import annotations

import re
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest

import sessionkeeper
from sessionkeeper.config import DEFAULTS, DOCS
from sessionkeeper.kv.openapi import document
from sessionkeeper.stores import SCHEMES

ROOT = Path(__file__).resolve().parents[1]
DOCS_DIR = ROOT / "docs"


def _sphinx(builder: str, out: Path, doctrees: Path) -> None:
    pytest.importorskip("sphinx", reason="the docs extra is not installed")
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", builder]
    result = subprocess.run(
        [*command, "-d", str(doctrees), str(DOCS_DIR), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built from the work tree, with warnings as errors."""
    build = tmp_path_factory.mktemp("docs")
    _sphinx("html", build / "html", build / "doctrees")
    return build / "html"


def _text(page: Path) -> str:
    """A built page's text: tags removed, entities and smart quotes undone, whitespace folded."""
    raw = unescape(re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8")))
    plain = raw.translate(str.maketrans("\u2018\u2019\u201c\u201d", "''\"\"", "\u200b"))
    return " ".join(plain.split())


def test_every_configuration_key_has_a_one_line_description() -> None:
    assert list(DOCS) == list(DEFAULTS)
    for key, line in DOCS.items():
        assert line.strip(), key
        assert "\n" not in line, key


def test_the_store_description_names_a_url_of_every_store() -> None:
    named = {
        target
        for scheme, target in SCHEMES.items()
        if re.search(rf"``{re.escape(scheme)}(://|``)", DOCS["SESSION_STORE"])
    }
    assert sorted(set(SCHEMES.values()) - named) == []


def _squashed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_the_configuration_page_shows_every_key_with_its_description(html: Path) -> None:
    text = _text(html / "configuration.html")
    for key, line in DOCS.items():
        assert key in text, key
        first_words = " ".join(line.replace("``", "").split()[:4])
        assert _squashed(first_words) in _squashed(text), (key, first_words)
    assert "30 minutes" in text  # SESSION_IDLE_TIMEOUT's default, in words
    assert "12 hours" in text


def test_the_kv_api_page_shows_every_route_of_the_openapi_document(html: Path) -> None:
    text = _text(html / "kv-api.html")
    methods = {"get", "post", "put", "patch", "delete"}
    for path, operations in document()["paths"].items():
        for method in operations.keys() & methods:
            assert f"{method.upper()} {path}" in text, (method, path)


def test_the_cli_page_shows_every_command(html: Path) -> None:
    from sessionkeeper.cli import main
    from sessionkeeper.flask_cli import sessions_cli

    text = _text(html / "cli.html")
    for name in ["kv serve", "dump", "demo"]:
        assert f"sessionkeeper {name}" in text, name
    for name in sessions_cli.commands:
        assert f"flask sessions {name}" in text, name
    assert "--token-file" in text
    assert main.commands  # the page is rendered from these objects


def test_the_api_page_documents_every_public_name(html: Path) -> None:
    text = _text(html / "api.html")
    for name in sessionkeeper.__all__:
        assert re.search(rf"\b{re.escape(name)}\b", text), name


def test_the_benchmarks_page_includes_the_latest_run_and_every_soak_run(html: Path) -> None:
    text = _text(html / "benchmarks.html")
    results = ROOT / "bench" / "results"
    for report in [results / "latest.md", *sorted(results.glob("soak-*.md"))]:
        title = report.read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip()
        assert title in text, report.name


def test_the_labs_have_a_page_each(html: Path) -> None:
    for lab in ["paywall", "login", "quest", "mailing-list", "counter", "cookies"]:
        assert (html / "labs" / f"{lab}.html").is_file(), lab


def test_the_code_samples_run(tmp_path: Path) -> None:
    out = tmp_path / "doctest"
    _sphinx("doctest", out, tmp_path / "doctrees")
    report = (out / "output.txt").read_text(encoding="utf-8")
    assert "0 failures in tests" in report
    assert re.search(r"^\s+([1-9]\d*) tests$", report, re.MULTILINE), report
