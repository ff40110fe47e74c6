"""Real PostgreSQL and MariaDB servers for the tests, started on 127.0.0.1 and stopped by pid.

Fixtures: ``postgresql_server`` and ``mariadb_server``, one each for the session,
started the first time a test asks. Tests isolate themselves with a fresh database
(:meth:`SqlServer.fresh_url`). PostgreSQL refuses to run as root: as root, its data
folder is given to the ``postgres`` user and the server runs as that user.

Without the server binaries these fixtures skip, or fail when ``CI=true``.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from redis_servers import free_port, wait_until

POSTGRES_BINS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def find(binary: str, package: str, folders: list[Path] | None = None) -> str:
    """Return the path of ``binary``, on PATH or in ``folders``; skip without it (fail in CI)."""
    path = shutil.which(binary) or next(
        (str(f / binary) for f in folders or [] if (f / binary).is_file()), None
    )
    if path is None:
        message = f"{binary} is not installed (Debian: apt-get install {package})"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


@dataclass
class SqlServer:
    """A database server of our own: how to reach it, and how to make a fresh database."""

    directory: Path
    port: int
    process: subprocess.Popen[bytes]
    url_of: Callable[[str], str]
    create_database: Callable[[str], None]
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def fresh_url(self) -> str:
        """Create a database no other test uses and return its SQLAlchemy URL."""
        name = f"t{next(self._names)}"
        self.create_database(name)
        return self.url_of(name)

    def stop(self) -> None:
        """Stop the server by its pid (SIGTERM, then SIGKILL), and remove its files."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def _start(command: list[str], log: Path, user: str | None) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, user=user)


def _exited(process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    if process.poll() is not None:
        tail = log.read_text(errors="replace")[-2000:]
        pytest.fail(f"{what} exited:\n{tail}", pytrace=False)


@pytest.fixture(scope="session")
def postgresql_server() -> Iterator[SqlServer]:
    """One PostgreSQL server (fsync off, trust authentication) for the whole session."""
    import psycopg

    initdb = find("initdb", "postgresql", POSTGRES_BINS)
    postgres = find("postgres", "postgresql", POSTGRES_BINS)
    user = "postgres" if os.geteuid() == 0 else None
    # Not under pytest's own temp folder: that one is private to root, the server's user.
    directory = Path(tempfile.mkdtemp(prefix="sessionkeeper-pg-"))
    if user is not None:
        shutil.chown(directory, user)
    data, log, port = directory / "data", directory / "postgres.log", free_port()
    subprocess.run(
        [
            initdb,
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "--locale=C",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
        user=user,
        timeout=120,
    )
    command = [postgres, "-D", str(data), "-k", str(directory), "-p", str(port)]
    command += ["-h", "127.0.0.1", "-F", "-c", "max_connections=200"]
    process = _start(command, log, user)
    admin_dsn = f"host=127.0.0.1 port={port} user=postgres dbname=postgres"

    def answers() -> bool:
        _exited(process, log, "postgres")
        try:
            psycopg.connect(admin_dsn, connect_timeout=2).close()
        except psycopg.OperationalError:
            return False
        return True

    def create_database(name: str) -> None:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} STRATEGY FILE_COPY")

    server = SqlServer(
        directory,
        port,
        process,
        lambda name: f"postgresql+psycopg://postgres@127.0.0.1:{port}/{name}",
        create_database,
    )
    try:
        wait_until(answers, f"postgres on port {port}")
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[SqlServer]:
    """One MariaDB server (no grant tables, no binary log, lazy flushes) for the session."""
    import pymysql

    install = find("mariadb-install-db", "mariadb-server")
    mariadbd = find("mariadbd", "mariadb-server", [Path("/usr/sbin")])
    directory = Path(tempfile.mkdtemp(prefix="sessionkeeper-mariadb-"))
    data, log, port = directory / "data", directory / "mariadb.log", free_port()
    as_root = ["--user=root"] if os.geteuid() == 0 else []
    setup = [install, "--no-defaults", f"--datadir={data}", "--skip-test-db", *as_root]
    setup += ["--auth-root-authentication-method=normal", "--skip-name-resolve"]
    subprocess.run(
        setup,
        check=True,
        capture_output=True,
        timeout=120,
    )
    command = [mariadbd, "--no-defaults", f"--datadir={data}", f"--socket={directory}/sock"]
    command += [f"--port={port}", "--bind-address=127.0.0.1", "--skip-grant-tables"]
    command += ["--skip-log-bin", "--innodb-flush-log-at-trx-commit=0", "--max-connections=300"]
    command += ["--innodb-buffer-pool-size=64M", f"--pid-file={directory}/pid", *as_root]
    process = _start(command, log, None)

    def connect() -> pymysql.Connection[pymysql.cursors.Cursor]:
        return pymysql.connect(host="127.0.0.1", port=port, user="root", connect_timeout=2)

    def answers() -> bool:
        _exited(process, log, "mariadbd")
        try:
            connect().close()
        except pymysql.err.OperationalError:
            return False
        return True

    def create_database(name: str) -> None:
        conn = connect()
        try:
            with conn.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE {name}")
        finally:
            conn.close()

    server = SqlServer(
        directory,
        port,
        process,
        lambda name: f"mariadb+pymysql://root@127.0.0.1:{port}/{name}?charset=utf8mb4",
        create_database,
    )
    try:
        wait_until(answers, f"mariadbd on port {port}")
        yield server
    finally:
        server.stop()
