"""Accounts, API keys, grants and budgets.

A key is 32 random bytes (URL-safe text); only its SHA-256 is stored. Lookup is by that
hash, and the stored hash is compared in constant time. A missing, wrong, revoked or expired
key, or a deactivated account, all give the same answer: no principal.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from schema import generation
from schema.access import (
    ROLES,
    Account,
    AccountBudget,
    ApiKey,
    BudgetRead,
    CacheGeneration,
    Grant,
    Role,
)
from schema.models import Dataset, utcnow

KEY_BYTES = 32
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _name(name: str) -> str:
    if not name.strip():
        raise ValueError("an account needs a name")
    return name.strip()


def create_account(session: Session, *, name: str, role: Role, organisation: str = "") -> Account:
    """A new account; ValueError for a role that does not exist or a blank name."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    account = Account(name=_name(name), role=role, organisation=organisation.strip())
    session.add(account)
    session.flush()
    return account


def get_account(session: Session, account_id: int) -> Account | None:
    return session.get(Account, account_id)


def all_accounts(
    session: Session, after: int | None = None, limit: int | None = None
) -> Sequence[Account]:
    """Accounts by id; a page by keyset: ``limit`` of them after the id ``after``."""
    query = select(Account).order_by(Account.id).limit(limit)
    if after is not None:
        query = query.where(Account.id > after)
    return session.scalars(query).all()


def active_partners(session: Session, ids: Sequence[int] | None = None) -> Sequence[Account]:
    """Active partner accounts by name (only those among ``ids`` when given)."""
    query = select(Account).where(Account.role == "partner", Account.active.is_(True))
    if ids is not None:
        query = query.where(Account.id.in_(ids))
    return session.scalars(query.order_by(Account.name)).all()


def update_account(
    session: Session,
    account: Account,
    *,
    name: str | None = None,
    organisation: str | None = None,
    active: bool | None = None,
) -> dict[str, list[Any]]:
    """Change what is given; returns each change as ``[old, new]``."""
    changes: dict[str, list[Any]] = {}
    if name is not None:
        changes["name"] = [account.name, _name(name)]
        account.name = _name(name)
    if organisation is not None:
        changes["organisation"] = [account.organisation, organisation.strip()]
        account.organisation = organisation.strip()
    if active is not None:
        changes["active"] = [account.active, active]
        account.active = active
    session.flush()
    return changes


def keys_of(session: Session, account_id: int) -> Sequence[ApiKey]:
    return session.scalars(
        select(ApiKey).where(ApiKey.account_id == account_id).order_by(ApiKey.id)
    ).all()


def get_key(session: Session, key_id: int) -> ApiKey | None:
    return session.get(ApiKey, key_id)


def issue_key(
    session: Session, account_id: int, *, label: str = "", expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """A new key for the account; the clear key is returned once and never stored."""
    raw = secrets.token_urlsafe(KEY_BYTES)
    key = ApiKey(account_id=account_id, key_hash=hash_key(raw), label=label, expires_at=expires_at)
    session.add(key)
    session.flush()
    return key, raw


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def authenticate(
    session: Session, raw: str, now: datetime | None = None
) -> tuple[Account, ApiKey] | None:
    """The account (and key) behind a presented key, or None for any reason at all.

    Reads only: marking the key as used is ``touch``, committed at once by the caller, so
    that concurrent requests with one key never wait on its row.
    """
    found = find_key(session, hash_key(raw))
    return None if found is None else valid(found, hash_key(raw), now)


def find_key(session: Session, digest: str) -> tuple[Account, ApiKey] | None:
    """The key of that hash and its account, valid or not; the cache generation is read in
    the same statement (``schema.generation``), so what is found may be kept per worker."""
    row = session.execute(
        select(ApiKey, Account, generation.token_column())
        .join(Account, Account.id == ApiKey.account_id)
        .where(ApiKey.key_hash == digest)
    ).one_or_none()
    if row is None:
        return None
    key, account, token = row
    generation.saw(session, token)
    return account, key


# Built once (its account bound per call), so that the compiled form is cached: every hit.
# Columns, not the entity: Core rows, without the ORM's loading of AccountBudget objects.
_GENERATION_AND_BUDGETS = (
    select(
        CacheGeneration.token,
        AccountBudget.dataset_id,
        AccountBudget.limit_micro,
        AccountBudget.spent_micro,
    )
    .select_from(CacheGeneration)
    .outerjoin(AccountBudget, AccountBudget.account_id == bindparam("account_id"))
    .where(CacheGeneration.id == 1)
)


def generation_and_budgets(
    session: Session, account_id: int
) -> tuple[int | None, dict[int, BudgetRead]]:
    """The cache generation's token and the account's query budgets by dataset id, in one
    statement (a hit checks what it took from the worker's cache and reads its budget at
    once), on the session's connection: in its transaction, without the ORM's execution."""
    found = session.connection().execute(_GENERATION_AND_BUDGETS, {"account_id": account_id})
    rows = found.all()
    token = rows[0][0] if rows else None
    return token, {d: BudgetRead(d, limit, spent) for _, d, limit, spent in rows if d is not None}


def valid(
    found: tuple[Account, ApiKey], digest: str, now: datetime | None = None
) -> tuple[Account, ApiKey] | None:
    """The key and account if the key is the one presented, unrevoked, unexpired and of an
    active account (checked on every use: a cached key expires on time)."""
    account, key = found
    now = now or utcnow()
    if not hmac.compare_digest(key.key_hash, digest):
        return None
    if key.revoked_at is not None or not account.active:
        return None
    if key.expires_at is not None and _aware(key.expires_at) <= now:
        return None
    return account, key


def needs_touch(key: ApiKey, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return key.last_used_at is None or now - _aware(key.last_used_at) > LAST_USED_RESOLUTION


def touch(session: Session, key_id: int, now: datetime | None = None) -> None:
    """Record that a key was used (at most once a minute)."""
    now = now or utcnow()
    session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key_id,
            (ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at < now - LAST_USED_RESOLUTION),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )


def revoke_key(session: Session, key_id: int) -> ApiKey | None:
    key = session.get(ApiKey, key_id)
    if key is not None and key.revoked_at is None:
        key.revoked_at = utcnow()
    return key


def grant(session: Session, account_id: int, dataset_id: int) -> None:
    if session.get(Grant, (account_id, dataset_id)) is None:
        session.add(Grant(account_id=account_id, dataset_id=dataset_id))
        session.flush()


def remove_grant(session: Session, account_id: int, dataset_id: int) -> None:
    existing = session.get(Grant, (account_id, dataset_id))
    if existing is not None:
        session.delete(existing)
        session.flush()


def granted(session: Session, account_id: int) -> list[str]:
    """The slugs of the datasets granted to an account, sorted."""
    return sorted(
        session.scalars(
            select(Dataset.slug)
            .join(Grant, Grant.dataset_id == Dataset.id)
            .where(Grant.account_id == account_id)
        )
    )


def set_account_budget(
    session: Session, account_id: int, dataset_id: int, limit_micro: int
) -> tuple[int | None, int]:
    """Set an account's limit on a dataset; returns the old and new limits (micro-ε)."""
    budget = session.get(AccountBudget, (account_id, dataset_id))
    if budget is None:
        budget = AccountBudget(
            account_id=account_id, dataset_id=dataset_id, limit_micro=limit_micro, spent_micro=0
        )
        session.add(budget)
        session.flush()
        return None, limit_micro
    if limit_micro < budget.spent_micro:
        raise ValueError("a limit cannot go below what the account has already spent")
    old = budget.limit_micro
    budget.limit_micro = limit_micro
    session.flush()
    return old, limit_micro


def set_dataset_budget(
    session: Session, dataset: Dataset, cap_micro: int, max_per_query_micro: int
) -> dict[str, int]:
    """Set a dataset's global cap and per-query maximum; returns the old values."""
    if cap_micro < dataset.spent_micro:
        raise ValueError("the cap cannot go below what has already been spent on the dataset")
    if max_per_query_micro <= 0:
        raise ValueError("the maximum per query must be above zero")
    old = {"cap_micro": dataset.cap_micro, "max_per_query_micro": dataset.max_per_query_micro}
    dataset.cap_micro = cap_micro
    dataset.max_per_query_micro = max_per_query_micro
    session.flush()
    return old


def by_name(session: Session, name: str) -> Account | None:
    """The first account of that name (names are not unique; the demo looks its own up)."""
    return session.scalars(select(Account).where(Account.name == name).order_by(Account.id)).first()
