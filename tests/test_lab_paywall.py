"""The paywall lab on every session store: articles, three free views, clear, migrations, seed."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from flask import Flask, session
from flask.testing import FlaskClient

from lab_servers import Curl, close_lab
from sessionlab import paywall
from sessionlab.paywall import create_app, prepare_database
from sessionlab.paywall.models import Article, User, db

ARTICLE_KEYS = {
    "author",
    "content",
    "date",
    "id",
    "minutes_to_read",
    "preview",
    "title",
    "user",
    "user_id",
}


@pytest.fixture(scope="module")
def seeded_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated and seeded database, built once and copied for each test."""
    folder = tmp_path_factory.mktemp("paywall")
    path = folder / "seeded.db"
    app = create_app(
        {"SESSION_STORE": "cookie", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"},
        instance_path=folder,
    )
    prepare_database(app, random_seed=7)
    close_lab(app)
    return path


@pytest.fixture
def app(build_lab: Callable[..., Flask], seeded_database: Path, tmp_path: Path) -> Flask:
    path = tmp_path / "paywall.db"
    shutil.copy(seeded_database, path)
    return build_lab(
        create_app,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}",
        PAYWALL_CLIENT_DIR=str(tmp_path / "no-client"),
    )


@pytest.fixture
def plain_app(tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[str], Flask]:
    """The lab on the cookie store with its own database, for what sessions do not change."""

    def build(database: str) -> Flask:
        config = {
            "SESSION_STORE": "cookie",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
            "PAYWALL_CLIENT_DIR": str(tmp_path / "no-client"),
        }
        app = create_app(config, instance_path=tmp_path / "instance")
        request.addfinalizer(lambda: close_lab(app))
        return app

    return build


def test_articles_lists_every_article(client: FlaskClient) -> None:
    answer = client.get("/articles")
    assert answer.status_code == 200
    articles = answer.json
    assert isinstance(articles, list) and len(articles) == 100
    assert all(set(article) == ARTICLE_KEYS for article in articles)
    assert "Cookie" not in answer.vary  # listing touches no session


def test_three_free_views_then_401_and_the_count_is_kept(client: FlaskClient) -> None:
    with client:
        client.get("/clear")
        assert session.get("page_views") == 0
        for views in (1, 2, 3):
            answer = client.get(f"/articles/{views}")
            assert answer.status_code == 200
            assert answer.json is not None
            assert set(answer.json) == ARTICLE_KEYS | {"views_left"}
            assert answer.json["id"] == views
            assert answer.json["views_left"] == 3 - views
            assert session.get("page_views") == views
        answer = client.get("/articles/4")
        assert answer.status_code == 401
        assert answer.json == {"message": "Maximum pageview limit reached"}
        assert session.get("page_views") == 4
        assert client.get("/articles/1").status_code == 401
        assert session.get("page_views") == 5


def test_an_article_has_its_user_and_a_25_character_preview(client: FlaskClient) -> None:
    article = client.get("/articles/1").json
    assert article is not None
    assert article["preview"] == article["content"][:25] + "..."
    assert 1 <= article["minutes_to_read"] <= 20
    assert article["user"] == {"id": article["user_id"], "name": article["user"]["name"]}


def test_unknown_article_is_404_json_and_not_counted(client: FlaskClient) -> None:
    with client:
        answer = client.get("/articles/9999")
        assert answer.status_code == 404
        assert answer.is_json and answer.json is not None
        assert answer.json["status"] == 404
        assert session.get("page_views") is None
        client.get("/articles/1")
        assert session.get("page_views") == 1


def test_clear_resets_the_count(client: FlaskClient) -> None:
    for _ in range(4):
        client.get("/articles/2")
    with client:
        answer = client.get("/clear")
        assert answer.status_code == 200
        assert answer.json == {"message": "200: Successfully cleared session data."}
        assert session.get("page_views") == 0
    assert client.get("/articles/2").status_code == 200


def test_odd_paths_answer_json_errors(client: FlaskClient) -> None:
    for path in ("/articles/abc", "/articles/-1", "/nothing", "/articles/1/x"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert answer.is_json


def test_a_browser_mistyping_a_url_gets_a_page_and_api_clients_json(
    client: FlaskClient,
) -> None:
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    for path in ("/articels", "/articles/9999"):
        page = client.get(path, headers={"Accept": browser})
        assert page.status_code == 404 and page.mimetype == "text/html", path
        assert "<h1>404 Not Found</h1>" in page.text
        for accept in ("*/*", "application/json"):
            answer = client.get(path, headers={"Accept": accept})
            assert answer.status_code == 404 and answer.is_json, (path, accept)


def test_the_built_client_page_links_home_in_the_demo_only(
    plain_app: Callable[[str], Flask], tmp_path: Path
) -> None:
    app = plain_app("unused.db")
    app.config["PAYWALL_CLIENT_DIR"] = str(
        _fake_build(tmp_path / "built", "<html><body><div id=root></div></body></html>")
    )
    alone = _home(app)
    assert "All labs" not in alone and "data-inspector" in alone
    app.config["SESSIONLAB_HOME"] = "/"
    assert '<a href="/" data-home>← All labs</a>' in _home(app)


def test_post_is_405_json(client: FlaskClient) -> None:
    answer = client.post("/articles")
    assert answer.status_code == 405
    assert answer.is_json and answer.headers["Allow"]


def test_home_links_the_api_when_the_client_is_not_built(client: FlaskClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert 'href="/articles"' in page.text
    assert "<code>make client</code>" in page.text  # and says how to build it


def _fake_build(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "index.html").write_text(text)
    return folder


def _home(app: Flask) -> str:
    answer = app.test_client().get("/")
    try:
        return answer.text
    finally:
        answer.close()  # send_file answers hold the file open until closed


def test_the_client_is_the_packaged_one_by_default(
    plain_app: Callable[[str], Flask], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert paywall.DEFAULTS["PAYWALL_CLIENT_DIR"] is None
    assert Path(paywall.__file__).with_name("client") == paywall.CLIENT  # package data
    app = plain_app("unused.db")
    app.config["PAYWALL_CLIENT_DIR"] = None  # the default
    monkeypatch.setattr(paywall, "CLIENT", _fake_build(tmp_path / "packaged", "packaged"))
    assert _home(app) == "packaged"


def test_a_relative_client_dir_is_taken_from_the_instance_folder(
    plain_app: Callable[[str], Flask], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = plain_app("unused.db")
    _fake_build(Path(app.instance_path, "my-client"), "in the instance folder")
    _fake_build(tmp_path / "cwd" / "my-client", "in the working directory")
    monkeypatch.chdir(tmp_path / "cwd")
    app.config["PAYWALL_CLIENT_DIR"] = "my-client"
    assert _home(app) == "in the instance folder"


def test_home_serves_the_built_client(app: Flask, client: FlaskClient, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<div id=root></div>")
    (dist / "assets" / "app.js").write_text("console.log(1)")
    app.config["PAYWALL_CLIENT_DIR"] = str(dist)

    def fetch(path: str) -> tuple[int, str]:
        answer = client.get(path)
        try:
            return answer.status_code, answer.text
        finally:
            answer.close()  # send_file answers hold the file open until closed

    assert fetch("/") == (200, "<div id=root></div>")
    assert fetch("/assets/app.js") == (200, "console.log(1)")
    assert fetch("/assets/missing.js")[0] == 404
    assert fetch("/../secret-key")[0] == 404
    assert client.get("/articles").is_json  # the API still wins over the client's files


def test_database_not_migrated_is_a_503_not_a_500(plain_app: Callable[[str], Flask]) -> None:
    client = plain_app("empty.db").test_client()
    answer = client.get("/articles")
    assert answer.status_code == 503
    assert answer.json is not None and "db upgrade" in answer.json["message"]


def test_db_upgrade_and_seed_commands(plain_app: Callable[[str], Flask]) -> None:
    app = plain_app("commands.db")
    runner = app.test_cli_runner()
    upgraded = runner.invoke(args=["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert "database upgraded to revision 0001 at " in upgraded.output
    assert upgraded.output.strip().endswith("commands.db")
    again = runner.invoke(args=["db", "upgrade"])
    assert "database already at revision 0001 at " in again.output
    seeded = runner.invoke(args=["seed", "--random-seed", "3"])
    assert seeded.exit_code == 0, seeded.output
    assert "seeded 25 users and 100 articles into " in seeded.output
    with app.app_context():
        assert db.session.query(User).count() == 25
        articles = db.session.query(Article).all()
        assert len(articles) == 100
        assert all(a.preview == a.content[:25] + "..." for a in articles)
        assert {a.minutes_to_read for a in articles} <= set(range(1, 21))
        assert all(a.user is not None for a in articles)


def test_prepare_migrates_and_seeds_only_an_empty_database(
    plain_app: Callable[[str], Flask],
) -> None:
    app = plain_app("fresh.db")
    prepare_database(app, random_seed=1)
    with app.app_context():
        first = db.session.get(Article, 1)
        assert first is not None
        title = first.title
    prepare_database(app, random_seed=2)
    with app.app_context():
        again = db.session.get(Article, 1)
        assert again is not None and again.title == title
        assert db.session.query(Article).count() == 100


def test_flask_command_line_finds_the_app(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "FLASK_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'cli.db'}",
        "SESSIONLAB_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    command = [sys.executable, "-m", "flask", "--app", "sessionlab.paywall", "db", "upgrade"]
    done = subprocess.run(command, env=env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    tables = sqlite3.connect(tmp_path / "cli.db").execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
    )
    with closing(tables.connection):
        assert [name for (name,) in tables] == ["alembic_version", "articles", "users"]


def test_python_m_seed_says_what_it_did(tmp_path: Path) -> None:
    env = {**os.environ, "SESSIONLAB_INSTANCE_PATH": str(tmp_path / "instance")}
    env.pop("FLASK_SQLALCHEMY_DATABASE_URI", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            timeout=60,
            text=True,
        )

    early = run("-m", "sessionlab.paywall.seed")
    assert early.returncode == 1 and "db upgrade` first" in early.stderr
    upgraded = run("-m", "flask", "--app", "sessionlab.paywall", "db", "upgrade")
    expected = "database upgraded to revision 0001 at instance/paywall/paywall.db"
    assert upgraded.stdout.strip() == expected, upgraded.stderr
    seeded = run("-m", "sessionlab.paywall.seed", "--articles", "20")
    assert seeded.returncode == 0, seeded.stderr
    assert (
        seeded.stdout.strip() == "seeded 25 users and 20 articles into instance/paywall/paywall.db"
    )


def test_the_labs_curl_flow(app: Flask, run_on_socket: Callable[[Flask], str], curl: Curl) -> None:
    url = run_on_socket(app)
    assert len(curl(f"{url}/articles").text) > 1000
    statuses = [curl(f"{url}/articles/{n}").status for n in (1, 2, 3, 4)]
    assert statuses == [200, 200, 200, 401]
    assert '"Maximum pageview limit reached"' in curl(f"{url}/articles/5").text
    assert "Successfully cleared session data." in curl(f"{url}/clear").text
    assert curl(f"{url}/articles/5").status == 200
