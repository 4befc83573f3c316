"""``amaan demo``: synthesise, load, create demo accounts, print their keys, and serve."""

from __future__ import annotations

import json
from pathlib import Path

import click

from api.cli.checks import port_free_or_exit
from api.cli.data import dataset_budgets, read_limits, settings_or_exit
from schema.access import Account, Role

DEMO_ACCOUNTS: tuple[tuple[str, Role, str | None], ...] = (
    ("Demo researcher", "researcher", "1.0"),
    ("Demo partner NGO", "partner", None),
    ("Demo helpline staff", "admin", None),
)


DEMO_EXTRACT = {
    "dataset": "helpline-cases",
    "group_by": ["year", "complaint_group"],
    "epsilon": 0.2,
}


def _demo_keys(database_url: str) -> tuple[dict[str, str], str]:
    """A fresh key for each demo account (the accounts and a published extract are created on
    first run); returns the keys and the demo extract's release id."""
    from sqlalchemy.orm import Session

    from api import answers
    from api.routes.queries import to_query
    from api.schemas import QueryIn
    from api.staff import accounts, publications
    from api.staff.common import Actor, account_or_404
    from privacy import Epsilon
    from schema.db import make_engine
    from schema.repositories import accounts as accounts_repo
    from schema.repositories import publications as publications_repo

    engine = make_engine(database_url)
    keys: dict[str, str] = {}
    cli = Actor()
    try:
        with Session(engine) as s, s.begin():
            by_role: dict[str, Account] = {}
            for name, role, budget in DEMO_ACCOUNTS:
                account = accounts_repo.by_name(s, name)
                if account is None:
                    issued = accounts.create_account(
                        s,
                        cli,
                        name=name,
                        role=role,
                        organisation="Amaan demo",
                        datasets=["helpline-cases"],
                        budget=Epsilon.parse(budget) if budget else None,
                    )
                    account, raw = account_or_404(s, issued.account_id), issued.key
                else:
                    raw = accounts.issue_key(s, cli, account.id, label="demo").key
                keys[role] = raw
                by_role[role] = account
            publication = publications_repo.first(s)
            if publication is None:
                extract = publications.Extract(
                    title="Complaints by year and group",
                    description="Demo extract: yearly complaints by complaint group.",
                    query=to_query(QueryIn.model_validate(DEMO_EXTRACT)),
                    audience=[publications.ALL_PARTNERS],
                    margins=True,
                )
                released = answers.answer(
                    s, by_role["admin"], answers.Publish(extract), settings_or_exit()
                )
                assert released.publication is not None
                publication = released.publication
            release_id = publications_repo.released(s, publication)[0].public_id
    finally:
        engine.dispose()
    return keys, release_id


def _examples(keys: dict[str, str], release_id: str, base: str) -> str:
    rest = json.dumps({"dataset": "helpline-cases", "group_by": ["year", "gender"], "epsilon": 0.1})
    graphql = json.dumps(
        {
            "query": 'mutation { countCases(query: {dataset: "helpline-cases", '
            "groupBy: [YEAR, GENDER], epsilon: 0.1}) { epsilonCharged budgetRemaining "
            "cells { key { code label } count lower upper suppressed reason } } }"
        }
    )
    return "\n".join(
        [
            "Demo keys (shown once; run amaan demo again for new ones):",
            *(f"  {role:<10} {key}" for role, key in keys.items()),
            "",
            "Try, as the researcher:",
            f"  curl -s -H 'Authorization: Bearer {keys['researcher']}' "
            f"-H 'Content-Type: application/json' -d '{rest}' {base}/v1/queries",
            f"  curl -s -H 'Authorization: Bearer {keys['researcher']}' "
            f"-H 'Content-Type: application/json' -d '{graphql}' {base}/graphql",
            f"  GraphiQL: {base}/graphql   API docs: {base}/docs",
            "",
            "As the partner NGO, the published extract as CSV (with a BOM for Excel):",
            f"  curl -s -H 'Authorization: Bearer {keys['partner']}' "
            f"'{base}/v1/releases/{release_id}?format=csv&bom=1' -o extract.csv",
            "  or as an Excel workbook with an English and Urdu About sheet:",
            f"  curl -s -H 'Authorization: Bearer {keys['partner']}' "
            f"'{base}/v1/releases/{release_id}?format=xlsx' -o extract.xlsx",
            "",
            "As helpline staff, the budgets:",
            f"  curl -s -H 'Authorization: Bearer {keys['admin']}' {base}/v1/admin/budgets",
            f"  or in a browser: {base}/admin (sign in with the admin key)",
        ]
    )


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-data"),
    show_default=True,
)
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--no-serve", is_flag=True, help="Stop after printing the keys.")
def demo(data_dir: Path, seed: int, host: str, port: int, no_serve: bool) -> None:
    """Create the warehouse, load the calibrated synthetic export, make demo accounts, serve."""
    from etl.coverage import Coverage
    from etl.errors import LoadRefused
    from etl.load import LoadOptions, load_file
    from etl.synth import SynthOptions, write_export
    from schema.db import make_engine
    from schema.migrate import upgrade
    from schema.settings import DEMO_PSEUDONYM_KEY

    settings = settings_or_exit()
    if not no_serve:  # before anything is made: no keys printed for a server that cannot start
        port_free_or_exit(host, port)
    data_dir.mkdir(parents=True, exist_ok=True)
    export = data_dir / f"helpline-export-2017-2024-seed{seed}.csv"
    if not export.exists():
        n = write_export(export, SynthOptions(seed=seed, dirty=40))
        click.echo(f"synthesised {n:,} rows into {export}")
    years = SynthOptions().years  # the synthetic export covers these years, every month
    covers = Coverage(f"{years[0]}-01", f"{years[1]}-12")
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    cap, per_query = dataset_budgets(settings)
    try:
        report = load_file(
            export,
            engine,
            LoadOptions(
                dataset="helpline-cases",
                pseudonym_key=DEMO_PSEUDONYM_KEY.encode("utf-8"),
                covers=covers,
                max_cases_per_person=settings.max_cases_per_person,
                cap_micro=cap,
                max_per_query_micro=per_query,
                read_limits=read_limits(settings),
            ),
        )
    except LoadRefused as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    click.echo(report.text())
    click.echo("")
    keys, release_id = _demo_keys(settings.database_url)
    click.echo(_examples(keys, release_id, f"http://{host}:{port}"))
    if not no_serve:
        from api.cli.serve import run_server

        run_server(settings, host, port)
