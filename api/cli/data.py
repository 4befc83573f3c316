"""Warehouse commands: ``amaan db``, ``amaan synth`` and ``amaan etl``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click
from pydantic import ValidationError

from api.cli.checks import warehouse_ready_or_exit
from api.cli.progress import load_progress
from schema.settings import DEMO_PSEUDONYM_KEY, Settings, get_settings

if TYPE_CHECKING:
    from etl.coverage import Coverage
    from etl.records import ReadLimits


def _problem(error: dict[str, object]) -> str:
    """One validation error as a phrase naming its ``AMAAN_`` variable."""
    loc = [str(part) for part in error["loc"]]  # type: ignore[attr-defined]
    message = str(error["msg"]).removeprefix("Value error, ")
    if not loc:  # a check across settings: its message names them
        return message
    return f"AMAAN_{loc[0].upper()}: {message}"


def settings_or_exit() -> Settings:
    from pydantic_settings import SettingsError

    try:
        return get_settings()
    except ValidationError as exc:
        problems = "; ".join(_problem(dict(e)) for e in exc.errors())
        raise click.ClickException(f"invalid settings: {problems}") from None
    except SettingsError as exc:  # not even parsed: a list or a mapping that is not JSON
        field = str(exc).split('"')[1] if str(exc).count('"') >= 2 else "settings"
        refused = "; '*' is refused" if field == "cors_origins" else ""
        raise click.ClickException(
            f"invalid settings: AMAAN_{field.upper()} must be JSON (for example "
            f'["https://a.example"] for a list){refused}'
        ) from None


def dataset_budgets(settings: Settings) -> tuple[int, int]:
    """The configured cap and per-query maximum of a dataset a load creates, in micro-ε."""
    from privacy import Epsilon

    return (
        Epsilon.parse(settings.default_dataset_cap).micro,
        Epsilon.parse(settings.default_max_per_query).micro,
    )


@click.group()
def db() -> None:
    """Create or migrate the warehouse."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration to the database at AMAAN_DATABASE_URL."""
    from sqlalchemy.exc import DBAPIError

    from schema.migrate import upgrade

    try:
        upgrade(settings_or_exit().database_url)
    except DBAPIError as exc:
        raise click.ClickException(
            f"the database at AMAAN_DATABASE_URL is unreachable ({type(exc.orig).__name__})"
        ) from None
    click.echo("warehouse is at the newest schema")


@click.command()
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--years", default="2017-2024", show_default=True, help="A year or a range.")
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--rows", default=None, type=click.IntRange(min=1), help="About this many rows.")
@click.option(
    "--dirty",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Add this many malformed rows.",
)
def synth(out: Path, years: str, seed: int, rows: int | None, dirty: int) -> None:
    """Write a synthetic raw export calibrated to the helpline's published figures."""
    from etl.synth import SynthOptions, parse_years, write_export

    try:
        span = parse_years(years)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--years") from None
    n = write_export(out, SynthOptions(years=span, seed=seed, rows=rows, dirty=dirty))
    click.echo(f"wrote {n:,} rows to {out}", err=True)


@click.group()
def etl() -> None:
    """Load raw exports into the warehouse."""


def parse_covers(text: str | None) -> Coverage:
    """``--covers``, strictly; the error names the option and the form it takes."""
    from etl.coverage import EXAMPLE, Coverage

    if text is None:
        raise click.BadParameter(
            f"declare the period the export covers, {EXAMPLE}: every case received in it, "
            "and only those (the dataset's public coverage comes from it)",
            param_hint="--covers",
        )
    try:
        return Coverage.parse(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--covers") from None


def read_limits(settings: Settings) -> ReadLimits:
    from etl.records import ReadLimits

    return ReadLimits(
        max_field_chars=settings.etl_max_field_chars,
        max_record_bytes=settings.etl_max_record_bytes,
        max_columns=settings.etl_max_columns,
    )


@etl.command("load")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dataset", required=True, help="Dataset slug, e.g. helpline-cases.")
@click.option(
    "--covers",
    default=None,
    metavar="YYYY-MM:YYYY-MM",
    help="The period the export covers (required): every case received in it, and no other.",
)
@click.option(
    "--max-reject-rate",
    type=click.FloatRange(0, 1),
    default=None,
    help="Refuse the file above this share of rejected rows (default 0.01).",
)
@click.option(
    "--aliases",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Extra spellings: JSON of dimension -> spelling -> code.",
)
@click.option(
    "--no-case-ref",
    is_flag=True,
    help="Accept an export without case_ref (then only the file's hash guards against "
    "loading its cases twice).",
)
@click.option(
    "--blank-consent",
    type=click.Choice(["yes", "no"]),
    default=None,
    help="For a dataset this load creates: whether a blank consent_to_share counts as "
    "consent (default no, as GBVIMS expects).",
)
@click.option("--demo-key", is_flag=True, help="Use the public demo pseudonym key (demo only).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead.")
def etl_load(
    file: Path,
    dataset: str,
    covers: str | None,
    max_reject_rate: float | None,
    aliases: Path | None,
    no_case_ref: bool,
    blank_consent: str | None,
    demo_key: bool,
    as_json: bool,
) -> None:
    """Validate, anonymise and load FILE as a new version of DATASET."""
    from etl.errors import LoadRefused
    from etl.load import LoadOptions, load_file
    from schema.db import make_engine

    period = parse_covers(covers)
    settings = settings_or_exit()
    if settings.pseudonym_key is not None:
        key = settings.pseudonym_key.get_secret_value()
    elif demo_key:
        key = DEMO_PSEUDONYM_KEY
    else:
        raise click.ClickException(
            "AMAAN_PSEUDONYM_KEY is not set: it keys the pseudonyms that bound each person's "
            "cases. Set a long random secret (or pass --demo-key for demo data)."
        )
    options = LoadOptions(
        dataset=dataset,
        pseudonym_key=key.encode("utf-8"),
        covers=period,
        max_reject_rate=settings.max_reject_rate if max_reject_rate is None else max_reject_rate,
        max_cases_per_person=settings.max_cases_per_person,
        aliases=aliases,
        cap_micro=dataset_budgets(settings)[0],
        max_per_query_micro=dataset_budgets(settings)[1],
        read_limits=read_limits(settings),
        no_case_ref=no_case_ref,
        blank_is_consent=None if blank_consent is None else blank_consent == "yes",
    )
    engine = make_engine(settings.database_url)
    try:
        warehouse_ready_or_exit(settings, engine)
        with load_progress(shown=not as_json) as progress:
            report = load_file(file, engine, options, progress=progress)
    except LoadRefused as exc:
        raise click.ClickException(f"refused {file.name}: {exc}") from None
    finally:
        engine.dispose()
    click.echo(json.dumps(report.as_json(), ensure_ascii=False) if as_json else report.text())
