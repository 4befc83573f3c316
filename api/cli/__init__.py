"""The ``amaan`` command. It is the composition root, so it may reach every package.

Each command's module is imported only when that command runs (click's lazy loading of
subcommands): ``amaan db upgrade`` does not pay for the web framework, the workbook writer and
the summaries, which every command used to import before doing anything.
"""

from __future__ import annotations

from importlib import import_module

import click

# name -> "module:attribute" of the command (a group or a single command)
COMMANDS = {
    "accounts": "api.cli.access:accounts",
    "audit": "api.cli.audit:audit_group",
    "budgets": "api.cli.access:budgets",
    "datasets": "api.cli.access:datasets",
    "db": "api.cli.data:db",
    "demo": "api.cli.demo:demo",
    "etl": "api.cli.data:etl",
    "keys": "api.cli.access:keys",
    "ledger": "api.cli.audit:ledger",
    "releases": "api.cli.releases:releases_group",
    "serve": "api.cli.serve:serve",
    "summaries": "api.cli.summaries:summaries_group",
    "synth": "api.cli.data:synth",
}


class LazyGroup(click.Group):
    """A group whose commands are named here and imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        command = getattr(import_module(module), attribute)
        if not isinstance(command, click.Command) or command.name != cmd_name:
            raise RuntimeError(f"{target} is not the command {cmd_name!r}")
        return command


@click.group(cls=LazyGroup)
@click.version_option(package_name="amaan", prog_name="amaan")
def main() -> None:
    """Amaan: differentially private statistics from helpline case data."""
