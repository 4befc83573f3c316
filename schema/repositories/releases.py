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
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, defer, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from schema.access import AccountBudget, LedgerEntry, Release, ReleaseKind
from schema.models import Dataset, utcnow


@dataclass
class BudgetExceeded(Exception):
    """A charge would pass a limit; nothing was charged."""

    limit: str  # "account_budget" or "dataset_cap"
    remaining_micro: int
    asked_micro: int


def find(session: Session, canonical_key: str) -> Release | None:
    """The release of a canonical query; its body is loaded only when read."""
    return session.scalars(
        select(Release)
        .options(defer(Release.body), defer(Release.packed), defer(Release.noisy))
        .where(Release.canonical_key == canonical_key)
    ).one_or_none()


def by_public_id(session: Session, public_id: str) -> Release | None:
    """A release; its body (large, and immutable) is loaded only when read."""
    return session.scalars(
        select(Release)
        .options(defer(Release.body), defer(Release.packed), defer(Release.noisy))
        .where(Release.public_id == public_id)
    ).one_or_none()


def claim(session: Session, release: Release) -> Release | None:
    """Insert a release before it is computed; None when another transaction holds the query.

    One statement (``INSERT ... ON CONFLICT (canonical_key) DO NOTHING RETURNING id``): of two
    concurrent identical claims on PostgreSQL, the second waits for the first to commit and
    then inserts nothing; if the first rolls back, the second claims it. The claim is filled
    (``fill``) or marked failed (``fail``) in the same transaction, so no other transaction
    ever sees it empty."""
    release.public_id = "r_" + secrets.token_hex(12)
    release.created_at = release.created_at or utcnow()
    release.body = release.body or ""
    release.failed = bool(release.failed)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    columns = [c.key for c in Release.__table__.columns if c.key != "id"]
    new_id = session.execute(
        insert(Release)
        .values({key: getattr(release, key) for key in columns})
        .on_conflict_do_nothing(index_elements=["canonical_key"])
        .returning(Release.id)
    ).scalar_one_or_none()
    if new_id is None:
        return None
    release.id = new_id
    make_transient_to_detached(release)
    session.add(release)
    return release


def fill(
    session: Session, release: Release, body: str, noisy: str, packed: bytes | None = None
) -> None:
    """Store a claimed release's body: ``body`` (JSON text), or ``packed`` (its columns,
    compressed: ``api.columns``) with ``body`` empty."""
    session.execute(
        update(Release)
        .where(Release.id == release.id)
        .values(body=body, noisy=noisy, packed=packed)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(release, "body", body)
    set_committed_value(release, "noisy", noisy)
    set_committed_value(release, "packed", packed)


def fail(session: Session, release: Release) -> None:
    session.execute(
        update(Release)
        .where(Release.id == release.id)
        .values(failed=True)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(release, "failed", True)


def remaining(session: Session, account_id: int, dataset_id: int) -> tuple[int | None, int]:
    """Micro-ε left to the account on the dataset (None: no budget) and to the dataset."""
    budget = session.get(AccountBudget, (account_id, dataset_id), populate_existing=True)
    dataset = session.get(Dataset, dataset_id, populate_existing=True)
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
    kind: ReleaseKind,
    charge_account: bool = True,
) -> int | None:
    """Charge the account's budget (unless a publication) and the dataset's cap; record it.

    Returns what the account has spent on the dataset after the charge (None for a
    publication)."""
    spent: int | None = None
    if charge_account:
        row = session.execute(
            update(AccountBudget)
            .where(
                AccountBudget.account_id == account_id,
                AccountBudget.dataset_id == dataset_id,
                AccountBudget.spent_micro + epsilon_micro <= AccountBudget.limit_micro,
            )
            .values(spent_micro=AccountBudget.spent_micro + epsilon_micro)
            .returning(AccountBudget.spent_micro)
            .execution_options(synchronize_session=False)  # read back by RETURNING
        ).one_or_none()
        if row is None:
            left, _ = remaining(session, account_id, dataset_id)
            raise BudgetExceeded("account_budget", max(left or 0, 0), epsilon_micro)
        spent = row[0]
    capped = session.execute(
        update(Dataset)
        .where(Dataset.id == dataset_id, Dataset.spent_micro + epsilon_micro <= Dataset.cap_micro)
        .values(spent_micro=Dataset.spent_micro + epsilon_micro)
        .returning(Dataset.spent_micro)
        .execution_options(synchronize_session=False)
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
    return spent


def attach(session: Session, release: Release) -> Release:
    """A release kept from another session (releases are immutable once committed), made this
    session's without reading it again."""
    return session.merge(release, load=False)
