"""Staff commands: ``amaan accounts``, ``amaan keys``, ``amaan datasets`` and ``amaan audit``.

Every change is written to the audit log in the same transaction as the change itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import click
from sqlalchemy.orm import Session

from api.cli.data import settings_or_exit
from privacy import Epsilon, PrivacyError
from schema.access import ROLES
from schema.db import make_engine
from schema.models import utcnow
from schema.repositories import accounts as accounts_repo
from schema.repositories import audit
from schema.repositories.datasets import get_dataset


@contextmanager
def _transaction() -> Iterator[Session]:
    engine = make_engine(settings_or_exit().database_url)
    try:
        with Session(engine) as session, session.begin():
            yield session
    finally:
        engine.dispose()


def _epsilon(value: str, option: str) -> Epsilon:
    try:
        eps = Epsilon.parse(value)
    except PrivacyError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None
    if eps.micro <= 0:
        raise click.BadParameter("must be greater than 0", param_hint=option)
    return eps


@click.group()
def accounts() -> None:
    """Create accounts (researchers, partners, staff)."""


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
    """Create an account and its first API key; the key is printed once, now."""
    settings = settings_or_exit()
    limit = (
        _epsilon(budget, "--budget") if budget else Epsilon.parse(settings.default_account_budget)
    )
    expires = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    with _transaction() as s:
        try:
            account = accounts_repo.create_account(
                s, name=name, role=role, organisation=organisation
            )
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        for slug in datasets:
            dataset = get_dataset(s, slug)
            if dataset is None:
                raise click.ClickException(f"no dataset {slug!r}; load one with amaan etl load")
            accounts_repo.grant(s, account.id, dataset.id)
            if role != "admin":
                old, new = accounts_repo.set_account_budget(s, account.id, dataset.id, limit.micro)
                audit.append(
                    s,
                    action="budget.account",
                    outcome="set",
                    account_id=account.id,
                    dataset_id=dataset.id,
                    epsilon_micro=new,
                    detail={"old_micro": old, "new_micro": new, "reason": "new account"},
                )
        key, raw = accounts_repo.issue_key(s, account.id, expires_at=expires)
        account_id, key_id = account.id, key.id
        audit.append(
            s,
            action="account.create",
            outcome="created",
            account_id=account.id,
            detail={"role": role, "datasets": list(datasets)},
        )
        audit.append(
            s,
            action="key.issue",
            outcome="issued",
            account_id=account.id,
            detail={"key_id": key.id},
        )
    if as_json:
        click.echo(json.dumps({"account_id": account_id, "key_id": key_id, "key": raw}))
    else:
        click.echo(f"account {account_id} ({role}) created; key {key_id}:")
        click.echo(f"  {raw}")
        click.echo("This key is shown once and cannot be recovered. Store it now.", err=True)


@click.group()
def keys() -> None:
    """Revoke API keys."""


@keys.command("revoke")
@click.argument("key_id", type=int)
def keys_revoke(key_id: int) -> None:
    """Revoke a key at once; requests with it get 401 from now on."""
    with _transaction() as s:
        key = accounts_repo.revoke_key(s, key_id)
        if key is None:
            raise click.ClickException(f"no key {key_id}")
        audit.append(
            s,
            action="key.revoke",
            outcome="revoked",
            account_id=key.account_id,
            detail={"key_id": key_id},
        )
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
    with _transaction() as s:
        found = get_dataset(s, dataset)
        if found is None:
            raise click.ClickException(f"no dataset {dataset!r}")
        try:
            old = accounts_repo.set_dataset_budget(s, found, cap_eps.micro, per_query.micro)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        audit.append(
            s,
            action="budget.dataset",
            outcome="set",
            dataset_id=found.id,
            detail={
                "old": old,
                "new": {"cap_micro": cap_eps.micro, "max_per_query_micro": per_query.micro},
                "reason": reason.strip(),
            },
        )
    click.echo(f"{dataset}: cap {cap_eps} ε, at most {per_query} ε per query")


@click.group("audit")
def audit_group() -> None:
    """The audit log."""


@audit_group.command("verify")
def audit_verify() -> None:
    """Check the hash chain; exits 1 on any edited, inserted or deleted entry."""
    with _transaction() as s:
        result = audit.verify(s)
    if not result.ok:
        where = f" (entry {result.entry_id})" if result.entry_id is not None else ""
        raise click.ClickException(
            f"audit chain broken after {result.entries} good entries{where}: {result.problem}"
        )
    click.echo(f"audit chain intact: {result.entries} entries")
