"""Staff commands: everything the admin API does, for a terminal session.

``amaan accounts``, ``keys``, ``datasets``, ``budgets``, ``ledger``, ``audit`` and
``releases`` call the same functions as ``/v1/admin``; each change is audited in its own
transaction, as made by ``cli`` (publishing names the staff account with ``--as``). Every
command seals the audit log before it exits, so its entries are in the chain when it is done.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from api import admin, answers, extracts, publications
from api.admin import Actor, Filters
from api.cli.data import settings_or_exit
from api.errors import AmaanError
from privacy import Epsilon
from schema.access import ROLES, Account
from schema.db import Timeouts, make_engine
from schema.models import utcnow
from schema.repositories import audit
from schema.repositories.audit_verify import KEY_INFO


def cli_engine() -> Engine:
    settings = settings_or_exit()
    return make_engine(settings.database_url, timeouts=Timeouts.of(settings))


def seal(engine: Engine) -> None:
    try:
        audit.seal_pending(engine, settings_or_exit().audit_secret())
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
        # As for a request: a refusal the release service recorded keeps its audit entry.
        if exc.recorded:
            session.commit()
        else:
            session.rollback()
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


def _epsilon(value: str, option: str) -> Epsilon:
    try:
        return admin.epsilon(value, option)
    except AmaanError as exc:
        raise click.BadParameter(exc.message, param_hint=option) from None


def _print(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@click.group()
def accounts() -> None:
    """Accounts of researchers, partners and staff."""


@accounts.command("create")
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--organisation", default="")
@click.option("--dataset", "datasets", multiple=True, help="Grant this dataset (repeatable).")
@click.option("--budget", default=None, help="ε the account may spend on each dataset.")
@click.option("--expires-in-days", type=click.IntRange(min=1), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print account_id, key_id and key as JSON.")
def accounts_create(
    name: str,
    role: str,
    organisation: str,
    datasets: tuple[str, ...],
    budget: str | None,
    expires_in_days: int | None,
    as_json: bool,
) -> None:
    """Create an account and its first API key; the key is printed once, now.

    Researchers get ``--budget`` (default from configuration) on each dataset; partners get a
    query budget only when ``--budget`` is given; staff never have one.
    """
    settings = settings_or_exit()
    if budget is not None:
        limit: Epsilon | None = _epsilon(budget, "--budget")
    elif role == "researcher":
        limit = Epsilon.parse(settings.default_account_budget)
    else:
        limit = None
    expires = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    with transaction() as s:
        account, key, raw = admin.create_account(
            s,
            Actor(),
            name=name,
            role=role,
            organisation=organisation,
            datasets=datasets,
            budget=limit,
            expires_at=expires,
        )
        account_id, key_id = account.id, key.id
    if as_json:
        click.echo(json.dumps({"account_id": account_id, "key_id": key_id, "key": raw}))
    else:
        click.echo(f"account {account_id} ({role}) created; key {key_id}:")
        click.echo(f"  {raw}")
        click.echo("This key is shown once and cannot be recovered. Store it now.", err=True)


@accounts.command("list")
def accounts_list() -> None:
    """Every account, as JSON."""
    with transaction() as s:
        rows = [
            {"account_id": a.id, "name": a.name, "role": a.role, "active": a.active}
            for a in s.scalars(select(Account).order_by(Account.id))
        ]
    _print(rows)


@accounts.command("show")
@click.argument("account_id", type=int)
def accounts_show(account_id: int) -> None:
    """An account's grants, keys (never the keys themselves) and budgets, as JSON."""
    with transaction() as s:
        _print(admin.account_view(s, account_id))


@accounts.command("update")
@click.argument("account_id", type=int)
@click.option("--name", default=None)
@click.option("--organisation", default=None)
@click.option("--active/--inactive", default=None, help="--inactive stops all its keys.")
def accounts_update(
    account_id: int, name: str | None, organisation: str | None, active: bool | None
) -> None:
    """Rename, move, deactivate or reactivate an account."""
    with transaction() as s:
        account = admin.update_account(
            s, Actor(), account_id, name=name, organisation=organisation, active=active
        )
        state = "active" if account.active else "deactivated"
    click.echo(f"account {account_id} updated ({state})")


@accounts.command("set-budget")
@click.argument("account_id", type=int)
@click.option("--dataset", required=True)
@click.option("--epsilon", required=True, help="The account's new limit on the dataset.")
@click.option("--reason", required=True, help="Why; kept in the audit log.")
def accounts_set_budget(account_id: int, dataset: str, epsilon: str, reason: str) -> None:
    """Set an account's limit on a dataset (granting the dataset)."""
    limit = _epsilon(epsilon, "--epsilon")
    with transaction() as s:
        old, _ = admin.set_account_budget(s, Actor(), account_id, dataset, limit, reason)
    was = "none" if old is None else f"{Epsilon(old)} ε"
    click.echo(f"account {account_id} on {dataset}: limit {limit} ε (was {was})")


@accounts.command("grant")
@click.argument("account_id", type=int)
@click.argument("dataset")
@click.option("--remove", is_flag=True, help="Take the grant away instead.")
def accounts_grant(account_id: int, dataset: str, remove: bool) -> None:
    """Grant (or with --remove, withdraw) access to a dataset."""
    with transaction() as s:
        admin.set_grant(s, Actor(), account_id, dataset, not remove)
    click.echo(f"account {account_id}: {dataset} {'withdrawn' if remove else 'granted'}")


@click.group()
def keys() -> None:
    """Issue and revoke API keys."""


@keys.command("issue")
@click.argument("account_id", type=int)
@click.option("--label", default="")
@click.option("--expires-in-days", type=click.IntRange(min=1), default=None)
@click.option("--json", "as_json", is_flag=True)
def keys_issue(account_id: int, label: str, expires_in_days: int | None, as_json: bool) -> None:
    """Issue another key for an account; printed once, now."""
    expires = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    with transaction() as s:
        key, raw = admin.issue_key(s, Actor(), account_id, label=label, expires_at=expires)
        key_id = key.id
    if as_json:
        click.echo(json.dumps({"account_id": account_id, "key_id": key_id, "key": raw}))
    else:
        click.echo(f"key {key_id} for account {account_id}:\n  {raw}")
        click.echo("This key is shown once and cannot be recovered. Store it now.", err=True)


@keys.command("revoke")
@click.argument("key_id", type=int)
def keys_revoke(key_id: int) -> None:
    """Revoke a key at once; requests with it get 401 from now on."""
    with transaction() as s:
        admin.revoke_key(s, Actor(), key_id)
    click.echo(f"key {key_id} revoked")


@click.group()
def datasets() -> None:
    """Dataset budgets."""


@datasets.command("set-budget")
@click.argument("dataset")
@click.option("--cap", required=True, help="ε all accounts together may spend.")
@click.option("--max-per-query", required=True, help="The most ε one query may spend.")
@click.option("--reason", required=True, help="Why; kept in the audit log.")
def datasets_set_budget(dataset: str, cap: str, max_per_query: str, reason: str) -> None:
    """Set a dataset's global cap and per-query maximum."""
    if not reason.strip():
        raise click.BadParameter("a budget change needs a written reason", param_hint="--reason")
    cap_eps, per_query = _epsilon(cap, "--cap"), _epsilon(max_per_query, "--max-per-query")
    if per_query > cap_eps:
        raise click.BadParameter("must not exceed --cap", param_hint="--max-per-query")
    with transaction() as s:
        admin.set_dataset_budget(s, Actor(), dataset, cap_eps, per_query, reason)
    click.echo(f"{dataset}: cap {cap_eps} ε, at most {per_query} ε per query")


@click.command("budgets")
def budgets() -> None:
    """The overview: each dataset's cap and spend, each account's, flagged at 80%."""
    with transaction() as s:
        _print(admin.overview(s))


def table_options(f: Any) -> Any:
    for option in reversed(
        [
            click.option("--account", type=int, default=None),
            click.option("--dataset", default=None),
            click.option("--since", type=click.DateTime(), default=None),
            click.option("--until", type=click.DateTime(), default=None),
            click.option("--limit", type=click.IntRange(1, admin.MAX_ROWS), default=1000),
            click.option("--csv", "as_csv", is_flag=True, help="CSV instead of JSON."),
        ]
    ):
        f = option(f)
    return f


def emit(rows: list[dict[str, Any]], columns: list[str], as_csv: bool) -> None:
    if not as_csv:
        _print(rows)
        return
    click.echo(extracts.records_csv(columns, rows), nl=False)


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
        rows = admin.ledger(s, Filters(account, dataset, since, until, None, limit))
    emit(rows, admin.LEDGER_COLUMNS, as_csv)


@click.group("releases")
def releases_group() -> None:
    """Extracts published to partners."""


def _staff(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None or account.role != "admin" or not account.active:
        raise click.BadParameter("must name an active staff (admin) account", param_hint="--as")
    return account


@releases_group.command("publish")
@click.option("--as", "staff_id", type=int, required=True, help="The publishing staff account.")
@click.option("--title", required=True)
@click.option("--description", default="")
@click.option(
    "--query",
    "query_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="A JSON file holding the body of POST /v1/queries.",
)
@click.option("--audience", multiple=True, required=True, help="all-partners or account ids.")
@click.option("--rounding", type=click.IntRange(1, 1000), default=5)
@click.option("--margins/--no-margins", default=False)
def releases_publish(
    staff_id: int,
    title: str,
    description: str,
    query_file: Path,
    audience: tuple[str, ...],
    rounding: int,
    margins: bool,
) -> None:
    """Publish a named extract; charged to the dataset's cap as a publication."""
    from pydantic import ValidationError

    from api.routes.queries import to_query
    from api.schemas import QueryIn

    try:
        query = to_query(QueryIn.model_validate_json(query_file.read_text(encoding="utf-8")))
    except ValidationError as exc:
        raise click.BadParameter(str(exc), param_hint="--query") from None
    settings = settings_or_exit()
    with transaction() as s:
        staff = _staff(s, staff_id)
        extract = publications.Extract(
            title, description, query, list(audience), rounding=rounding, margins=margins
        )
        released = answers.answer(s, staff, answers.Publish(extract), settings)
        assert released.publication is not None
        _print(publications.describe(s, released.publication, str(released.epsilon_charged)))


@releases_group.command("republish")
@click.argument("publication_id", type=int)
@click.option("--as", "staff_id", type=int, required=True, help="The publishing staff account.")
def releases_republish(publication_id: int, staff_id: int) -> None:
    """Publish an extract again for the dataset's newest version (charged anew)."""
    settings = settings_or_exit()
    with transaction() as s:
        staff = _staff(s, staff_id)
        released = answers.answer(s, staff, answers.Republish(publication_id), settings)
        assert released.publication is not None
        _print(publications.describe(s, released.publication, str(released.epsilon_charged)))


@releases_group.command("list")
def releases_list() -> None:
    """Every published extract, newest first."""
    with transaction() as s:
        _print(publications.described(s))
