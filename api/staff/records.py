"""The ledger (every charge of privacy loss), the audit log and its verification, and an
account's releases, as staff read them: newest first, filtered and bounded."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.errors import InvalidQuery
from api.staff.common import dataset_or_404
from privacy import Epsilon
from schema.repositories import audit, audit_seal
from schema.repositories import records as records_repo
from schema.repositories.audit_verify import Verification, key_of

MAX_ROWS = 10_000
LEDGER_COLUMNS = ["id", "at", "account_id", "dataset", "release_id", "kind", "epsilon"]
AUDIT_COLUMNS = [
    *("id", "at", "account_id", "action", "outcome", "dataset", "version_id"),
    *("canonical_key", "epsilon", "detail", "hash"),
]


@dataclass(frozen=True)
class Filters:
    account_id: int | None = None
    dataset: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    action: str | None = None
    limit: int = 1000
    before: int | None = None  # a page: rows older than this id

    def window(self, session: Session) -> records_repo.Window:
        """The rows these filters select; refused when they make no sense."""
        if not 1 <= self.limit <= MAX_ROWS:
            raise InvalidQuery(f"limit must be from 1 to {MAX_ROWS}", field="limit")
        if self.since and self.until and self.since > self.until:
            raise InvalidQuery("since must not be after until", field="since")
        dataset = None if self.dataset is None else dataset_or_404(session, self.dataset).id
        return records_repo.Window(
            self.limit, self.account_id, dataset, self.since, self.until, self.before
        )


@dataclass(frozen=True)
class Charge:
    id: int
    at: datetime
    account_id: int
    dataset: str
    release_id: str
    kind: str
    epsilon: Epsilon


@dataclass(frozen=True)
class AuditRecord:
    id: int
    at: datetime
    account_id: int | None
    action: str
    outcome: str
    dataset: str | None
    version_id: int | None
    canonical_key: str | None
    epsilon: Epsilon | None
    detail: str  # JSON, as stored: never a true count or a key
    hash: str | None  # None until the entry is sealed


@dataclass(frozen=True)
class AccountRelease:
    release_id: str
    at: datetime
    kind: str
    group_by: list[str]
    filters: dict[str, list[str]]
    epsilon: Epsilon
    cache_hits: int


def as_csv(columns: list[str], rows: Sequence[Charge] | Sequence[AuditRecord]) -> str:
    """Ledger or audit rows as CSV, the same from the API and the CLI: ε as exact decimals,
    times in ISO 8601, neutralised like every CSV of Amaan."""
    from api import extracts  # here: the workbook writer it brings is not every command's

    def text(value: object) -> object:
        if isinstance(value, datetime):
            return value.isoformat()
        return str(value) if isinstance(value, Epsilon) else value

    return extracts.records_csv(columns, [{k: text(v) for k, v in vars(r).items()} for r in rows])


def ledger(session: Session, f: Filters) -> list[Charge]:
    return [
        Charge(e.id, e.created_at, e.account_id, slug, public_id, e.kind, Epsilon(e.epsilon_micro))
        for e, slug, public_id in records_repo.ledger(session, f.window(session))
    ]


def audit_log(session: Session, f: Filters) -> list[AuditRecord]:
    found = records_repo.audit_log(session, f.window(session), f.action)
    return [
        AuditRecord(
            e.id,
            e.at,
            e.account_id,
            e.action,
            e.outcome,
            slug,
            e.version_id,
            e.canonical_key,
            None if e.epsilon_micro is None else Epsilon(e.epsilon_micro),
            e.detail,
            e.hash,
        )
        for e, slug in found
    ]


def audit_actions(session: Session) -> list[str]:
    return records_repo.audit_actions(session)


def verify(session: Session, seal: bool = True) -> Verification:
    """Seal what is committed (in transactions of its own, before the long read), then
    verify the chain and recompute every budget from it."""
    if seal:  # the caller ended its transaction first (``api.deps.end_read``)
        bind = session.get_bind()
        audit_seal.seal_pending(bind if isinstance(bind, Engine) else bind.engine, key_of(session))
    return audit.verify(session)


def releases_of(session: Session, account_id: int, limit: int = 100) -> list[AccountRelease]:
    """An account's newest releases: what was asked, when, at what ε, how often repeated."""
    out = []
    for r, hits in records_repo.releases_of(session, account_id, limit):
        form = json.loads(r.query)
        out.append(
            AccountRelease(
                r.public_id,
                r.created_at,
                r.kind,
                form["group_by"],
                form["filters"],
                Epsilon(r.epsilon_micro),
                hits,
            )
        )
    return out
