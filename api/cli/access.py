"""Staff commands for who may ask what: ``amaan accounts``, ``keys``, ``datasets`` and
``budgets``.

They call the same staff services as ``/v1/admin`` (``api.staff``), which check what is
asked; each change is audited as made by ``cli``.
"""

from __future__ import annotations

import json
from datetime import timedelta

import click

from api.cli.data import settings_or_exit
from api.cli.staff import option_epsilon, show, transaction, usage_error
from api.errors import InvalidChange
from api.staff import accounts as staff_accounts
from api.staff import budgets as staff_budgets
from api.staff.common import Actor
from privacy import Epsilon
from schema.access import ROLES, Role
from schema.models import utcnow


def _print_key(issued: staff_accounts.IssuedKey, as_json: bool, heading: str) -> None:
    if as_json:
        click.echo(
            json.dumps(
                {"account_id": issued.account_id, "key_id": issued.key_id, "key": issued.key}
            )
        )
        return
    click.echo(f"{heading}:\n  {issued.key}")
    click.echo("This key is shown once and cannot be recovered. Store it now.", err=True)


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
    role: Role,  # click.Choice(ROLES) let nothing else through
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
        limit: Epsilon | None = option_epsilon(budget, "--budget")
    elif role == "researcher":
        limit = Epsilon.parse(settings.default_account_budget)
    else:
        limit = None
    expires = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    with transaction() as s:
        issued = staff_accounts.create_account(
            s,
            Actor(),
            name=name,
            role=role,
            organisation=organisation,
            datasets=datasets,
            budget=limit,
            expires_at=expires,
        )
    _print_key(
        issued, as_json, f"account {issued.account_id} ({role}) created; key {issued.key_id}"
    )


@accounts.command("list")
def accounts_list() -> None:
    """Every account, as JSON."""
    with transaction() as s:
        found = staff_accounts.listed(s)
    show(
        [
            {"account_id": a.account_id, "name": a.name, "role": a.role, "active": a.active}
            for a in found
        ]
    )


@accounts.command("show")
@click.argument("account_id", type=int)
def accounts_show(account_id: int) -> None:
    """An account's grants, keys (never the keys themselves) and budgets, as JSON."""
    with transaction() as s:
        show(staff_accounts.view(s, account_id))


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
        account = staff_accounts.update_account(
            s, Actor(), account_id, name=name, organisation=organisation, active=active
        )
    click.echo(f"account {account_id} updated ({'active' if account.active else 'deactivated'})")


@accounts.command("set-budget")
@click.argument("account_id", type=int)
@click.option("--dataset", required=True)
@click.option("--epsilon", required=True, help="The account's new limit on the dataset.")
@click.option("--reason", required=True, help="Why; kept in the audit log.")
def accounts_set_budget(account_id: int, dataset: str, epsilon: str, reason: str) -> None:
    """Set an account's limit on a dataset (granting the dataset)."""
    limit = option_epsilon(epsilon, "--epsilon")
    with transaction() as s:
        change = staff_budgets.set_account_budget(s, Actor(), account_id, dataset, limit, reason)
    was = "none" if change.old is None else f"{change.old} ε"
    click.echo(f"account {account_id} on {dataset}: limit {change.new} ε (was {was})")


@accounts.command("grant")
@click.argument("account_id", type=int)
@click.argument("dataset")
@click.option("--remove", is_flag=True, help="Take the grant away instead.")
def accounts_grant(account_id: int, dataset: str, remove: bool) -> None:
    """Grant (or with --remove, withdraw) access to a dataset."""
    with transaction() as s:
        staff_accounts.set_grant(s, Actor(), account_id, dataset, not remove)
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
        issued = staff_accounts.issue_key(s, Actor(), account_id, label=label, expires_at=expires)
    _print_key(issued, as_json, f"key {issued.key_id} for account {account_id}")


@keys.command("revoke")
@click.argument("key_id", type=int)
def keys_revoke(key_id: int) -> None:
    """Revoke a key at once; requests with it get 401 from now on."""
    with transaction() as s:
        staff_accounts.revoke_key(s, Actor(), key_id)
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
    cap_eps, per_query = (
        option_epsilon(cap, "--cap"),
        option_epsilon(max_per_query, "--max-per-query"),
    )
    try:
        limits = staff_budgets.DatasetLimits(cap_eps, per_query)
    except InvalidChange as exc:
        raise usage_error(exc, {"cap": "--cap", "max_per_query": "--max-per-query"}) from None
    with transaction() as s:
        staff_budgets.set_dataset_budget(s, Actor(), dataset, limits, reason)
    click.echo(f"{dataset}: cap {limits.cap} ε, at most {limits.max_per_query} ε per query")


@click.command("budgets")
def budgets() -> None:
    """The overview: each dataset's cap and spend, each account's, flagged at 80%."""
    with transaction() as s:
        show(staff_budgets.overview(s))
