"""Budgets as staff review them: every dataset's cap and spend, every account's limit and
spend with the releases charged and the cache hits it had, and ε spent over time.

Reads only; the conditional updates that charge a budget are in ``releases``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schema.access import Account, AccountBudget, AuditEntry, LedgerEntry
from schema.models import Dataset


class BudgetRow(NamedTuple):
    budget: AccountBudget
    account: Account
    dataset: Dataset
    releases: int  # queries charged to this budget
    cache_hits: int  # repeats answered from the cache, free
    last_charge_micro: int | None  # the newest charge to this budget (ε is public to staff)


class Spend(NamedTuple):
    at: datetime
    epsilon_micro: int
    account_id: int
    name: str


def datasets(session: Session) -> Sequence[Dataset]:
    """Every dataset, by slug."""
    return session.scalars(select(Dataset).order_by(Dataset.slug)).all()


def last_dataset_charges(session: Session) -> dict[int, int]:
    """Each dataset's newest charge in micro-ε, by dataset id (ε is public to staff)."""
    newest = select(func.max(LedgerEntry.id)).group_by(LedgerEntry.dataset_id)
    rows = session.execute(
        select(LedgerEntry.dataset_id, LedgerEntry.epsilon_micro).where(LedgerEntry.id.in_(newest))
    )
    return {dataset_id: micro for dataset_id, micro in rows}


def dataset_slugs(session: Session) -> list[str]:
    return list(session.scalars(select(Dataset.slug).order_by(Dataset.slug)))


def account_budgets(session: Session, account_id: int | None = None) -> list[BudgetRow]:
    """Each account's budget per dataset (only ``account_id``'s when given), unordered."""
    charged = select(LedgerEntry.account_id, LedgerEntry.dataset_id, func.count()).where(
        LedgerEntry.kind == "query"
    )
    hits = select(AuditEntry.account_id, AuditEntry.dataset_id, func.count()).where(
        AuditEntry.action == "query", AuditEntry.outcome == "cache_hit"
    )
    budgets = (
        select(AccountBudget, Account, Dataset)
        .join(Account, Account.id == AccountBudget.account_id)
        .join(Dataset, Dataset.id == AccountBudget.dataset_id)
    )
    newest = select(func.max(LedgerEntry.id)).group_by(
        LedgerEntry.account_id, LedgerEntry.dataset_id
    )
    if account_id is not None:
        newest = newest.where(LedgerEntry.account_id == account_id)
        charged = charged.where(LedgerEntry.account_id == account_id)
        hits = hits.where(AuditEntry.account_id == account_id)
        budgets = budgets.where(AccountBudget.account_id == account_id)
    releases = {
        (a, d): n
        for a, d, n in session.execute(
            charged.group_by(LedgerEntry.account_id, LedgerEntry.dataset_id)
        )
    }
    cached = {
        (a, d): n
        for a, d, n in session.execute(hits.group_by(AuditEntry.account_id, AuditEntry.dataset_id))
    }
    last = {
        (a, d): micro
        for a, d, micro in session.execute(
            select(LedgerEntry.account_id, LedgerEntry.dataset_id, LedgerEntry.epsilon_micro).where(
                LedgerEntry.id.in_(newest)
            )
        )
    }
    return [
        BudgetRow(
            budget,
            account,
            dataset,
            releases.get((account.id, dataset.id), 0),
            cached.get((account.id, dataset.id), 0),
            last.get((account.id, dataset.id)),
        )
        for budget, account, dataset in session.execute(budgets)
    ]


def spending(session: Session, dataset_id: int) -> list[Spend]:
    """Every charge on a dataset, oldest first, with the name of the account charged."""
    rows = session.execute(
        select(LedgerEntry.created_at, LedgerEntry.epsilon_micro, Account.id, Account.name)
        .join(Account, Account.id == LedgerEntry.account_id)
        .where(LedgerEntry.dataset_id == dataset_id)
        .order_by(LedgerEntry.created_at)
    )
    return [Spend(*row) for row in rows]
