"""The ``sessionkeeper`` command: a Click group; subcommands live beside what they run.

Other packages add subcommands through the ``sessionkeeper.commands`` entry
point group (the labs add ``demo``), loaded only when the command line names
them or asks for help, so this package never imports them. A plugin that fails
to load becomes a command that says so, and the rest of the tool keeps working.
"""

from __future__ import annotations

from importlib import metadata
from typing import Final

import click

from .kv.cli import dump, kv

__all__ = ["PLUGIN_GROUP", "PluginGroup", "main"]

#: The entry point group other packages register ``sessionkeeper`` subcommands in.
PLUGIN_GROUP: Final = "sessionkeeper.commands"


class PluginGroup(click.Group):
    """A Click group that adds the commands registered under :data:`PLUGIN_GROUP`.

    A command of the group itself wins over a plugin of the same name.
    """

    def _plugins(self) -> dict[str, metadata.EntryPoint]:
        found: dict[str, metadata.EntryPoint] = {}
        for entry in metadata.entry_points(group=PLUGIN_GROUP):
            if entry.name not in self.commands:
                found.setdefault(entry.name, entry)
        return found

    def list_commands(self, ctx: click.Context) -> list[str]:
        """List the group's own commands and the plugins' names, sorted."""
        return sorted({*super().list_commands(ctx), *self._plugins()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Return the named command, loading a plugin's only when it is asked for."""
        own = super().get_command(ctx, cmd_name)
        if own is not None:
            return own
        entry = self._plugins().get(cmd_name)
        if entry is None:
            return None
        try:
            command = entry.load()
        except Exception as exc:  # any error of a plugin's import: report it, keep the tool
            return _broken(entry, f"{type(exc).__name__}: {exc}")
        if not isinstance(command, click.Command):
            return _broken(entry, f"{entry.value} is a {type(command).__name__}, not a command")
        return command


def _broken(entry: metadata.EntryPoint, reason: str) -> click.Command:
    """Stand in for a plugin that failed to load: listed in --help, and an error when run."""
    where = f"{entry.value} (from {entry.dist.name})" if entry.dist else entry.value
    message = f"the {entry.name!r} command could not be loaded from {where}: {reason}"

    def fail() -> None:
        raise click.ClickException(message)

    return click.Command(
        entry.name,
        callback=fail,
        help=message,
        short_help=f"(broken: {reason})",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        add_help_option=False,
    )


@click.group(cls=PluginGroup)
@click.version_option(package_name="sessionkeeper")
def main() -> None:
    """SessionKeeper: sessions for Flask, and the key-value service."""


main.add_command(kv)
main.add_command(dump)
