"""``flask sessions ...``: list, show and revoke stored sessions.

A configuration or store error in any command (cookie mode, a store that is down or
cannot list keys) ends it with Click's one-line ``Error: ...`` and exit code 1, not a
traceback: the command line was right, so it is no usage error (exit code 2). The
message names the store by its redacted URL, as the store's errors do.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from .errors import ConfigError, StoreError
from .server import SessionAdmin
from .state import KeeperState

__all__ = ["sessions_cli"]


class _SessionsGroup(AppGroup):
    """Turn the configuration and store errors of every command into one-line errors."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ConfigError, StoreError) as exc:
            raise click.ClickException(" ".join(str(exc).split())) from None


sessions_cli = _SessionsGroup("sessions", help="Inspect and revoke the sessions in the store.")


def _admin() -> SessionAdmin:
    return KeeperState.of(current_app).require_admin()


def _time(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")


@sessions_cli.command("list")
@click.option("--after", help="Start after this session id (the cursor printed by a page).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
def list_command(after: str | None, limit: int) -> None:
    """List stored sessions by hashed id, a page at a time."""
    admin = _admin()
    ids, next_id = admin.ids(after=after, limit=limit)
    if not ids:
        click.echo("no stored sessions" if after is None else "no more stored sessions")
    for id_hash in ids:
        info = admin.info(id_hash)
        if info is not None:
            click.echo(
                f"{info.id}  user={info.user or '-'}  created={_time(info.created)}  "
                f"expires={_time(info.expires)}  bytes={info.size}"
            )
    if next_id is not None:
        click.echo(f"next page: flask sessions list --after {next_id}")


@sessions_cli.command("show")
@click.argument("session_id")
def show_command(session_id: str) -> None:
    """Show one session's metadata and data."""
    info = _admin().info(session_id)
    if info is None:
        raise click.ClickException(f"no live session {session_id}")
    click.echo(f"id:        {info.id}")
    click.echo(f"user:      {info.user or '-'}")
    click.echo(f"created:   {_time(info.created)}")
    click.echo(f"last seen: {_time(info.last_seen)}")
    click.echo(f"expires:   {_time(info.expires)}")
    click.echo(f"bytes:     {info.size}")
    click.echo(json.dumps(info.data, indent=2, sort_keys=True, default=repr))


@sessions_cli.command("revoke")
@click.argument("session_id")
def revoke_command(session_id: str) -> None:
    """Delete one session; its cookie stops working."""
    if not _admin().revoke(session_id):
        raise click.ClickException(f"no live session {session_id}")
    click.echo(f"revoked {session_id}")


@sessions_cli.command("revoke-user")
@click.argument("user")
def revoke_user_command(user: str) -> None:
    """Delete every session bound to USER (log out everywhere)."""
    click.echo(f"revoked {_admin().revoke_user(user)} session(s) of {user}")


@sessions_cli.command("clear-expired")
def clear_expired_command() -> None:
    """Remove expired records (stores that expire keys by themselves need none)."""
    admin = _admin()
    if admin.store.expires_by_itself:
        click.echo("nothing to do: this store expires records by itself")
        return
    click.echo(f"removed {admin.clear_expired()} expired record(s)")


@sessions_cli.command("stats")
def stats_command() -> None:
    """Count stored sessions and their sizes."""
    stats = _admin().stats()
    click.echo(f"sessions: {stats.count}")
    click.echo(f"total bytes: {stats.total_bytes}")
    click.echo(f"largest bytes: {stats.largest_bytes}")


@sessions_cli.command("init-db")
def init_db_command() -> None:
    """Create the SQL store's table and index if missing (for schemas made ahead of time)."""
    store = KeeperState.of(current_app).store
    create_table = getattr(store, "create_table", None)
    if create_table is None:
        raise click.ClickException("init-db is for the SQL stores: this store has no schema")
    create_table()
    click.echo("the session table is ready")
