"""Alembic environment: migrate the database of the Flask app that runs the command."""

from __future__ import annotations

from typing import Any

from alembic import context
from flask import current_app

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
    """Run the migrations on the app's database."""
    options = dict(migrate.configure_args)
    options.setdefault("process_revision_directives", _skip_empty)
    with migrate.db.engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, **options)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
