"""The ledger, the audit log and an account's releases, as staff read them: newest first,
filtered by account, dataset, time and (the audit log) action, and always bounded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schema.access import AuditEntry, LedgerEntry, Release
from schema.models import Dataset


@dataclass(frozen=True)
class Window:
    """Which rows: ``since`` inclusive, ``until`` exclusive, at most ``limit`` of them, older
    than the row of id ``before`` (keyset pagination) when given."""

    limit: int
    account_id: int | None = None
    dataset_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    before: int | None = None


class Charge(NamedTuple):
    entry: LedgerEntry
    dataset: str
    release_id: str  # the release's public id


class Entry(NamedTuple):
    entry: AuditEntry
    dataset: str | None


class AccountRelease(NamedTuple):
    release: Release
    cache_hits: int


def _within(query: Any, table: Any, time: Any, window: Window) -> Any:
    if window.account_id is not None:
        query = query.where(table.account_id == window.account_id)
    if window.dataset_id is not None:
        query = query.where(table.dataset_id == window.dataset_id)
    if window.since is not None:
        query = query.where(time >= window.since)
    if window.until is not None:
        query = query.where(time < window.until)
    if window.before is not None:
        query = query.where(table.id < window.before)
    return query.order_by(table.id.desc()).limit(window.limit)


def ledger(session: Session, window: Window) -> list[Charge]:
    query = (
        select(LedgerEntry, Dataset.slug, Release.public_id)
        .join(Dataset, Dataset.id == LedgerEntry.dataset_id)
        .join(Release, Release.id == LedgerEntry.release_id)
    )
    query = _within(query, LedgerEntry, LedgerEntry.created_at, window)
    return [Charge(*row) for row in session.execute(query)]


def audit_log(session: Session, window: Window, action: str | None = None) -> list[Entry]:
    query = select(AuditEntry, Dataset.slug).outerjoin(Dataset, Dataset.id == AuditEntry.dataset_id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    query = _within(query, AuditEntry, AuditEntry.at, window)
    return [Entry(*row) for row in session.execute(query)]


def audit_actions(session: Session) -> list[str]:
    """The actions the audit log holds, sorted (for the page's filter)."""
    return list(session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))


def releases_of(session: Session, account_id: int, limit: int) -> list[AccountRelease]:
    """An account's newest releases, each with how often it was answered from the cache."""
    own = session.scalars(
        select(Release)
        .where(Release.account_id == account_id)
        .order_by(Release.id.desc())
        .limit(limit)
    ).all()
    hits = {
        key: n
        for key, n in session.execute(
            select(AuditEntry.canonical_key, func.count())
            .where(
                AuditEntry.canonical_key.in_([r.canonical_key for r in own]),
                AuditEntry.outcome == "cache_hit",
            )
            .group_by(AuditEntry.canonical_key)
        )
    }
    return [AccountRelease(r, hits.get(r.canonical_key, 0)) for r in own]
