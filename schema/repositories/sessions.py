"""Sessions of the admin page: a random cookie token (only its SHA-256 is stored) bound to
the staff API key that signed in. A session is valid only while it is not ended or expired
and its key and account are still valid and staff."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from schema.access import Account, AdminSession, ApiKey
from schema.models import utcnow
from schema.repositories.accounts import _aware, hash_key


def start(
    session: Session, account: Account, key: ApiKey, lifetime: timedelta
) -> tuple[AdminSession, str]:
    """A new session; returns it and the cookie token, which is never stored."""
    raw = secrets.token_urlsafe(32)
    row = AdminSession(
        token_hash=hash_key(raw),
        account_id=account.id,
        key_id=key.id,
        csrf_token=secrets.token_urlsafe(32),
        expires_at=utcnow() + lifetime,
    )
    session.add(row)
    session.flush()
    return row, raw


def find(
    session: Session, raw: str, now: datetime | None = None
) -> tuple[AdminSession, Account, ApiKey] | None:
    if not raw:
        return None
    now = now or utcnow()
    found = session.execute(
        select(AdminSession, Account, ApiKey)
        .join(Account, Account.id == AdminSession.account_id)
        .join(ApiKey, ApiKey.id == AdminSession.key_id)
        .where(AdminSession.token_hash == hash_key(raw))
    ).one_or_none()
    if found is None:
        return None
    row, account, key = found
    if row.ended_at is not None or _aware(row.expires_at) <= now:
        return None
    if key.revoked_at is not None or (key.expires_at and _aware(key.expires_at) <= now):
        return None
    if not account.active or account.role != "admin":
        return None
    return row, account, key


def end(session: Session, session_id: int) -> None:
    session.execute(
        update(AdminSession)
        .where(AdminSession.id == session_id, AdminSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )
