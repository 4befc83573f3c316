"""What the staff commands share: one transaction per command, the audit log sealed before
it exits, and their output: typed results printed as JSON or CSV, refusals as click errors.

Each change is audited in the command's transaction, as made by ``cli``; every command
seals the audit log before it exits, so its entries are in the chain when it is done.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.cli.checks import warehouse_ready_or_exit
from api.cli.data import settings_or_exit
from api.errors import AmaanError
from api.staff import records
from api.staff.common import epsilon
from api.transactions import settle
from privacy import Epsilon
from schema.db import Timeouts, make_engine
from schema.repositories import audit, audit_seal
from schema.repositories.audit_verify import KEY_INFO


def cli_engine() -> Engine:
    """The warehouse's engine, once it answers and is migrated (else the command stops)."""
    settings = settings_or_exit()
    engine = make_engine(settings.database_url, timeouts=Timeouts.of(settings))
    try:
        warehouse_ready_or_exit(settings, engine)
    except click.ClickException:
        engine.dispose()
        raise
    return engine


def seal(engine: Engine) -> None:
    try:
        audit_seal.seal_pending(engine, settings_or_exit().audit_secret())
    except Exception as exc:  # the entries are safe unsealed; the server seals them later
        click.echo(f"warning: the audit log was not sealed now ({type(exc).__name__})", err=True)


@contextmanager
def transaction() -> Iterator[Session]:
    engine = cli_engine()
    key = settings_or_exit().audit_secret()
    session = Session(engine, info={KEY_INFO: key})
    try:
        yield session
        session.commit()
    except AmaanError as exc:
        settle(session, exc)  # as for a request
        raise click.ClickException(exc.message) from None
    except audit.AuditKeyMismatch as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from None
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
        seal(engine)
        engine.dispose()


def option_epsilon(value: str, option: str) -> Epsilon:
    try:
        return epsilon(value, option)
    except AmaanError as exc:
        raise click.BadParameter(exc.message, param_hint=option) from None


def usage_error(exc: AmaanError, options: dict[str, str]) -> click.BadParameter:
    """A service's refusal of what the options said, as a usage error naming the option."""
    field, above = exc.details.get("field"), exc.details.get("not_above")
    message = f"must not exceed {options[above]}" if above in options else exc.message
    return click.BadParameter(message, param_hint=options.get(field or ""))


def plain(value: Any) -> Any:
    """A typed result as JSON values: ε as its exact decimal, times in ISO 8601."""
    if isinstance(value, Epsilon):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def show(data: Any) -> None:
    click.echo(json.dumps(plain(data), indent=2, ensure_ascii=False))


def table_options(f: Any) -> Any:
    for option in reversed(
        [
            click.option("--account", type=int, default=None),
            click.option("--dataset", default=None),
            click.option("--since", type=click.DateTime(), default=None),
            click.option("--until", type=click.DateTime(), default=None),
            click.option("--limit", type=click.IntRange(1, records.MAX_ROWS), default=1000),
            click.option("--csv", "as_csv", is_flag=True, help="CSV instead of JSON."),
        ]
    ):
        f = option(f)
    return f


def emit(
    rows: list[records.Charge] | list[records.AuditRecord], columns: list[str], as_csv: bool
) -> None:
    if as_csv:
        click.echo(records.as_csv(columns, rows), nl=False)
    else:
        show(rows)
