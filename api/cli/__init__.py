"""The ``amaan`` command. It is the composition root, so it may reach every package."""

from __future__ import annotations

import click

from api.cli.access import accounts, budgets, datasets, keys
from api.cli.audit import audit_group, ledger
from api.cli.data import db, etl, synth
from api.cli.demo import demo
from api.cli.releases import releases_group
from api.cli.serve import serve
from api.cli.summaries import summaries_group


@click.group()
@click.version_option(package_name="amaan", prog_name="amaan")
def main() -> None:
    """Amaan: differentially private statistics from helpline case data."""


main.add_command(db)
main.add_command(synth)
main.add_command(etl)
main.add_command(demo)
main.add_command(serve)
main.add_command(accounts)
main.add_command(keys)
main.add_command(datasets)
main.add_command(audit_group)
main.add_command(budgets)
main.add_command(ledger)
main.add_command(releases_group)
main.add_command(summaries_group)
