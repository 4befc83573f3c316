"""``amaan audit`` and ``amaan ledger``: list the log and the ledger, verify the log against
the key, a checkpoint and the budgets, and print checkpoints for staff to keep outside the
database."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click
from sqlalchemy.orm import Session

from api.cli.data import settings_or_exit
from api.cli.staff import cli_engine, emit, table_options, transaction
from api.staff import records
from schema.repositories import audit, audit_seal


@click.group("audit")
def audit_group() -> None:
    """The audit log."""


@audit_group.command("list")
@table_options
@click.option("--action", default=None)
def audit_list(
    account: int | None,
    dataset: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    as_csv: bool,
    action: str | None,
) -> None:
    """Audit entries, newest first."""
    with transaction() as s:
        rows = records.audit_log(s, records.Filters(account, dataset, since, until, action, limit))
    emit(rows, records.AUDIT_COLUMNS, as_csv)


@click.command("ledger")
@table_options
def ledger(
    account: int | None,
    dataset: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    as_csv: bool,
) -> None:
    """Every charge of privacy loss, newest first."""
    with transaction() as s:
        rows = records.ledger(s, records.Filters(account, dataset, since, until, None, limit))
    emit(rows, records.LEDGER_COLUMNS, as_csv)


@audit_group.command("verify")
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A checkpoint printed by `amaan audit checkpoint`, kept outside the database.",
)
def audit_verify(checkpoint_file: Path | None) -> None:
    """Seal, then check the chain (and the checkpoint) and recompute every budget from it;
    exits 1 on any edited, inserted, removed or reordered entry or budget that disagrees."""
    mark = None
    if checkpoint_file is not None:
        try:
            with checkpoint_file.open(encoding="utf-8", errors="strict") as f:
                mark = audit.parse_checkpoint(f.read(audit.MAX_CHECKPOINT_BYTES + 1))
        except (ValueError, UnicodeError) as exc:
            raise click.BadParameter(str(exc), param_hint="--checkpoint") from None
    engine = cli_engine()
    try:
        audit_seal.seal_pending(engine, settings_or_exit().audit_secret())
        with Session(engine) as s:
            result = audit.verify(s, settings_or_exit().audit_secret(), mark)
    finally:
        engine.dispose()
    if not result.ok:
        where = f" (entry {result.entry_id})" if result.entry_id is not None else ""
        raise click.ClickException(
            f"audit log check failed after {result.entries} good entries{where}: {result.problem}"
        )
    against = f", matches the checkpoint at {mark.sequence}" if mark else ""
    click.echo(f"audit chain intact: {result.entries} entries{against}; budgets agree")


@audit_group.command("checkpoint")
def audit_checkpoint() -> None:
    """Seal, then print the chain's head (sequence, hash, time) as JSON. Keep it outside the
    database (printed, mailed, in another system): `verify --checkpoint` detects any removal
    or rewrite of the log up to it, even by someone who can write to the database."""
    engine = cli_engine()
    try:
        audit_seal.seal_pending(engine, settings_or_exit().audit_secret())
        with Session(engine) as s:
            click.echo(json.dumps(audit.checkpoint(s)))
    finally:
        engine.dispose()
