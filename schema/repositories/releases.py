"""Releases, the budget charges that pay for them, and the ledger.

Charges are conditional UPDATEs (``spent + ε <= limit``): the database re-checks the condition
under the row lock, so concurrent requests can never overspend. Everything here runs inside
the caller's transaction; a refused charge raises, and the caller's rollback undoes the
stored release with it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from schema.access import AccountBudget, LedgerEntry, Release
from schema.models import Dataset


@dataclass
class BudgetExceeded(Exception):
    """A charge would pass a limit; nothing was charged."""

    limit: str  # "account_budget" or "dataset_cap"
    remaining_micro: int
    asked_micro: int


def find(session: Session, canonical_key: str) -> Release | None:
    return session.scalars(
        select(Release).where(Release.canonical_key == canonical_key)
    ).one_or_none()


def by_public_id(session: Session, public_id: str) -> Release | None:
    """A release; its body (large, and immutable) is loaded only when read."""
    return session.scalars(
        select(Release).options(defer(Release.body)).where(Release.public_id == public_id)
    ).one_or_none()


def store(session: Session, release: Release) -> Release | None:
    """Insert a release; None when another transaction stored the same query first."""
    release.public_id = "r_" + secrets.token_hex(12)
    try:
        with session.begin_nested():
            session.add(release)
            session.flush()
    except IntegrityError:
        return None
    return release


def remaining(session: Session, account_id: int, dataset_id: int) -> tuple[int | None, int]:
    """Micro-ε left to the account on the dataset (None: no budget) and to the dataset."""
    budget = session.get(AccountBudget, (account_id, dataset_id))
    dataset = session.get(Dataset, dataset_id)
    assert dataset is not None
    left = None if budget is None else budget.limit_micro - budget.spent_micro
    return left, dataset.cap_micro - dataset.spent_micro


def charge(
    session: Session,
    *,
    account_id: int,
    dataset_id: int,
    release_id: int,
    epsilon_micro: int,
    kind: str,
    charge_account: bool = True,
) -> None:
    """Charge the account's budget (unless a publication) and the dataset's cap; record it."""
    if charge_account:
        spent = session.execute(
            update(AccountBudget)
            .where(
                AccountBudget.account_id == account_id,
                AccountBudget.dataset_id == dataset_id,
                AccountBudget.spent_micro + epsilon_micro <= AccountBudget.limit_micro,
            )
            .values(spent_micro=AccountBudget.spent_micro + epsilon_micro)
            .returning(AccountBudget.spent_micro)
        ).one_or_none()
        if spent is None:
            left, _ = remaining(session, account_id, dataset_id)
            raise BudgetExceeded("account_budget", max(left or 0, 0), epsilon_micro)
    capped = session.execute(
        update(Dataset)
        .where(Dataset.id == dataset_id, Dataset.spent_micro + epsilon_micro <= Dataset.cap_micro)
        .values(spent_micro=Dataset.spent_micro + epsilon_micro)
        .returning(Dataset.spent_micro)
    ).one_or_none()
    if capped is None:
        _, left_cap = remaining(session, account_id, dataset_id)
        raise BudgetExceeded("dataset_cap", max(left_cap, 0), epsilon_micro)
    session.add(
        LedgerEntry(
            account_id=account_id,
            dataset_id=dataset_id,
            release_id=release_id,
            kind=kind,
            epsilon_micro=epsilon_micro,
        )
    )
    session.flush()
