"""Releases, the budget charges that pay for them, and the ledger.

Charges are conditional UPDATEs (``spent + ε <= limit``): the database re-checks the condition
under the row lock, so concurrent requests can never overspend. Everything here runs inside
the caller's transaction; a refused charge raises, and the caller's rollback undoes the
stored release with it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, defer, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from schema.access import AccountBudget, LedgerEntry, Release, ReleaseKind
from schema.models import Dataset, utcnow
from schema.repositories import audit


@dataclass
class BudgetExceeded(Exception):
    """A charge would pass a limit; nothing was charged."""

    limit: str  # "account_budget" or "dataset_cap"
    remaining_micro: int
    asked_micro: int


# Built once (the options and the comparison are not rebuilt per call): a release by a key,
# its body, columns and noise loaded only when read.
_DEFERRED = (defer(Release.body), defer(Release.packed), defer(Release.noisy))
_BY_KEY = select(Release).options(*_DEFERRED).where(Release.canonical_key == bindparam("key"))
_BY_PUBLIC_ID = select(Release).options(*_DEFERRED).where(Release.public_id == bindparam("id"))


def find(session: Session, canonical_key: str) -> Release | None:
    """The release of a canonical query; its body is loaded only when read."""
    return session.scalars(_BY_KEY, {"key": canonical_key}).one_or_none()


def by_public_id(session: Session, public_id: str) -> Release | None:
    """A release; its body (large, and immutable) is loaded only when read."""
    return session.scalars(_BY_PUBLIC_ID, {"id": public_id}).one_or_none()


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
    session: Session,
    release: Release,
    body: str,
    noisy: str,
    packed: bytes | None = None,
    entry: dict[str, Any] | None = None,
) -> None:
    """Store a claimed release's body: ``body`` (JSON text), or ``packed`` (its columns,
    compressed: ``api.columns``) with ``body`` empty. ``entry``: its audit entry (the fields
    of ``audit.append``), written in the same statement on PostgreSQL (one round trip)."""
    params = {"release_id": release.id, "body": body, "noisy": noisy, "packed": packed}
    if entry is not None and session.get_bind().dialect.name == "postgresql":
        audit.append(session, **entry, before=(_FILLED, params))
    else:
        session.execute(_FILL, params)
        if entry is not None:
            audit.append(session, **entry)
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


_LEDGER = cast(Table, LedgerEntry.__table__)
_RELEASES = cast(Table, Release.__table__)
# Built once, their values bound per call: SQLAlchemy's compiled cache then serves each use.
_LEDGER_INSERT = insert(_LEDGER)
_FILL = (
    update(_RELEASES)
    .where(_RELEASES.c.id == bindparam("release_id"))
    .values(body=bindparam("body"), noisy=bindparam("noisy"), packed=bindparam("packed"))
)
# PostgreSQL: ``_FILL`` as a CTE, sent with the release's audit entry (``fill``).
_FILLED = (
    "filled AS (UPDATE releases SET body = :body, noisy = :noisy, packed = :packed"
    " WHERE id = :release_id)"
)

# PostgreSQL: the claim, both charges and the ledger entry in one statement. Each step runs
# only when the one before it wrote its row (``EXISTS``): a claim that another transaction
# holds charges nothing; a refused charge writes no ledger entry. The charges are the same
# conditional UPDATEs as ``charge`` (re-checked under the row lock), taken in the same order
# (release, account, dataset), so concurrent asks queue and never overspend as before.
# A stored release is found without inserting (``NOT EXISTS``): PostgreSQL takes a sequence
# value before it meets the conflict, so a hit that conflicted would use up a release id
# (a 32-bit column) and widen the gaps between a caller's own ids. Only a claim that races
# another transaction's, uncommitted, still meets the conflict (and waits for it).
_CLAIMED = """
claimed AS (
  INSERT INTO releases (public_id, canonical_key, dataset_id, version_id, account_id, kind,
                        query, epsilon_micro, body, failed, created_at)
  SELECT CAST(:public_id AS VARCHAR), CAST(:canonical_key AS VARCHAR),
         CAST(:dataset_id AS INTEGER), CAST(:version_id AS INTEGER),
         CAST(:account_id AS INTEGER), CAST(:kind AS VARCHAR), CAST(:query AS TEXT),
         CAST(:epsilon_micro AS BIGINT), '', false, CAST(:created_at AS TIMESTAMPTZ)
  WHERE NOT EXISTS (SELECT FROM releases WHERE canonical_key = :canonical_key)
  ON CONFLICT (canonical_key) DO NOTHING
  RETURNING id)"""
_BOOKED = """
booked AS (
  INSERT INTO ledger (account_id, dataset_id, release_id, kind, epsilon_micro, created_at)
  SELECT :account_id, :dataset_id, claimed.id, :kind, :epsilon_micro, :created_at
  FROM claimed, capped
  RETURNING id)"""
_PG_CLAIM_CHARGE = {
    True: text(  # a query: the account's budget, then the dataset's cap
        "WITH"  # noqa: S608 (module constants only; every value is a bound parameter)
        + _CLAIMED
        + """,
charged AS (
  UPDATE account_budgets SET spent_micro = spent_micro + :epsilon_micro
  WHERE account_id = :account_id AND dataset_id = :dataset_id
    AND spent_micro + :epsilon_micro <= limit_micro AND EXISTS (SELECT FROM claimed)
  RETURNING spent_micro),
capped AS (
  UPDATE datasets SET spent_micro = spent_micro + :epsilon_micro
  WHERE id = :dataset_id AND spent_micro + :epsilon_micro <= cap_micro
    AND EXISTS (SELECT FROM charged)
  RETURNING spent_micro),"""
        + _BOOKED
        + """
SELECT (SELECT id FROM claimed), (SELECT spent_micro FROM charged),
       (SELECT spent_micro FROM capped), (SELECT id FROM booked)"""
    ),
    False: text(  # a publication: the dataset's cap only
        "WITH"  # noqa: S608 (module constants only; every value is a bound parameter)
        + _CLAIMED
        + """,
capped AS (
  UPDATE datasets SET spent_micro = spent_micro + :epsilon_micro
  WHERE id = :dataset_id AND spent_micro + :epsilon_micro <= cap_micro
    AND EXISTS (SELECT FROM claimed)
  RETURNING spent_micro),"""
        + _BOOKED
        + """
SELECT (SELECT id FROM claimed), NULL, (SELECT spent_micro FROM capped),
       (SELECT id FROM booked)"""
    ),
}


def claim_and_charge(
    session: Session, release: Release, *, charge_account: bool = True
) -> tuple[Release | None, int | None]:
    """``claim`` then ``charge`` (to the release's account, dataset, ε and kind): the claimed
    release and what the account has spent on the dataset after the charge (None for a
    publication), or (None, None) when another transaction holds the query (nothing charged).

    One statement on PostgreSQL (``_PG_CLAIM_CHARGE``), three or four on SQLite (which has
    no DML in a WITH). Call it inside a savepoint: a refused charge raises
    ``BudgetExceeded`` with the claim written, and when the dataset's cap refuses, the
    account's charge too (no ledger entry); the caller's savepoint undoes them, as with
    ``claim`` and ``charge``."""
    if session.get_bind().dialect.name != "postgresql":
        claimed = claim(session, release)
        if claimed is None:
            return None, None
        spent = charge(
            session,
            account_id=release.account_id,
            dataset_id=release.dataset_id,
            release_id=claimed.id,
            epsilon_micro=release.epsilon_micro,
            kind=release.kind,
            charge_account=charge_account,
        )
        return claimed, spent
    release.public_id = "r_" + secrets.token_hex(12)
    release.created_at = release.created_at or utcnow()
    release.body, release.failed, release.packed, release.noisy = "", False, None, None
    values = {
        "public_id": release.public_id,
        "canonical_key": release.canonical_key,
        "dataset_id": release.dataset_id,
        "version_id": release.version_id,
        "account_id": release.account_id,
        "kind": release.kind,
        "query": release.query,
        "epsilon_micro": release.epsilon_micro,
        "created_at": release.created_at,
    }
    new_id, spent, capped, booked = session.execute(_PG_CLAIM_CHARGE[charge_account], values).one()
    if new_id is None:
        return None, None
    release.id = new_id
    make_transient_to_detached(release)
    session.add(release)
    if charge_account and spent is None:
        left, _ = remaining(session, release.account_id, release.dataset_id)
        raise BudgetExceeded("account_budget", max(left or 0, 0), release.epsilon_micro)
    if capped is None:
        _, left_cap = remaining(session, release.account_id, release.dataset_id)
        raise BudgetExceeded("dataset_cap", max(left_cap, 0), release.epsilon_micro)
    assert booked is not None  # written with the charges it records
    return release, spent


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
    session.execute(
        _LEDGER_INSERT,
        {
            "account_id": account_id,
            "dataset_id": dataset_id,
            "release_id": release_id,
            "kind": kind,
            "epsilon_micro": epsilon_micro,
            "created_at": utcnow(),
        },
    )
    return spent


def attach(session: Session, release: Release) -> Release:
    """A release kept from another session (releases are immutable once committed), made this
    session's without reading it again."""
    return session.merge(release, load=False)
