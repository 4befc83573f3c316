"""Accounts, API keys, grants and budgets.

A key is 32 random bytes (URL-safe text); only its SHA-256 is stored. Lookup is by that
hash, and the stored hash is compared in constant time. A missing, wrong, revoked or expired
key, or a deactivated account, all give the same answer: no principal.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from schema.access import ROLES, Account, AccountBudget, ApiKey, Grant
from schema.models import Dataset, utcnow

KEY_BYTES = 32
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def create_account(session: Session, *, name: str, role: str, organisation: str = "") -> Account:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not name.strip():
        raise ValueError("an account needs a name")
    account = Account(name=name.strip(), role=role, organisation=organisation.strip())
    session.add(account)
    session.flush()
    return account


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
    digest = hash_key(raw)
    row = session.execute(
        select(ApiKey, Account)
        .join(Account, Account.id == ApiKey.account_id)
        .where(ApiKey.key_hash == digest)
    ).one_or_none()
    if row is None:
        return None
    key, account = row
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
