"""``amaan demo``: synthesise, load and (once the API exists) serve the demo."""

from __future__ import annotations

from pathlib import Path

import click

from api.cli.data import dataset_budgets, settings_or_exit


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-data"),
    show_default=True,
)
@click.option("--seed", default=1, show_default=True, type=int)
def demo(data_dir: Path, seed: int) -> None:
    """Create the warehouse, synthesise the calibrated export and load it."""
    from etl.errors import LoadRefused
    from etl.load import LoadOptions, load_file
    from etl.synth import SynthOptions, write_export
    from schema.db import make_engine
    from schema.migrate import upgrade
    from schema.settings import DEMO_PSEUDONYM_KEY

    settings = settings_or_exit()
    data_dir.mkdir(parents=True, exist_ok=True)
    export = data_dir / f"helpline-export-2017-2024-seed{seed}.csv"
    if not export.exists():
        n = write_export(export, SynthOptions(seed=seed, dirty=40))
        click.echo(f"synthesised {n:,} rows into {export}")
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        report = load_file(
            export,
            engine,
            LoadOptions(
                dataset="helpline-cases",
                pseudonym_key=DEMO_PSEUDONYM_KEY.encode("utf-8"),
                max_cases_per_person=settings.max_cases_per_person,
                cap_micro=dataset_budgets(settings)[0],
                max_per_query_micro=dataset_budgets(settings)[1],
            ),
        )
    except LoadRefused as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    click.echo(report.text())
