"""Alembic environment: migrate the database of the Flask app that runs the command.

An upgrade says what it did: the revisions it applied, or that there was
nothing to do, and where the database is.
"""

from __future__ import annotations

from typing import Any

import click
from alembic import context
from flask import current_app

from sessionlab.paywall.models import location

config = context.config
migrate = current_app.extensions["migrate"]
target_metadata = migrate.db.metadata


def _skip_empty(context: Any, revision: Any, directives: list[Any]) -> None:
    # Autogenerate writes no revision file when the models did not change.
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []


def run_offline() -> None:
    """Emit the SQL of the migrations instead of running them."""
    context.configure(url=str(migrate.db.engine.url), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run the migrations on the app's database, and say what changed."""
    options = dict(migrate.configure_args)
    options.setdefault("process_revision_directives", _skip_empty)
    applied: list[tuple[bool, str]] = []

    def note(*, step: Any, **_: Any) -> None:
        applied.append((step.is_upgrade, step.up_revision_id if step.is_upgrade else "base"))

    options.setdefault("on_version_apply", note)
    with migrate.db.engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, **options)
        with context.begin_transaction():
            context.run_migrations()
            current = context.get_context().get_current_revision()
    where = location(migrate.db.engine)
    if applied:
        verb = "upgraded" if applied[-1][0] else "downgraded"
        click.echo(f"database {verb} to revision {current or 'base'} at {where}")
    elif _upgrading():
        click.echo(f"database already at revision {current or 'base'} at {where}")


def _upgrading() -> bool:
    # Only upgrade and downgrade name a destination; current, check and revision do not.
    try:
        destination = context.get_revision_argument()
    except KeyError:
        return False
    return destination is not None and not getattr(config.cmd_opts, "autogenerate", False)


if context.is_offline_mode():
    run_offline()
else:
    run_online()
