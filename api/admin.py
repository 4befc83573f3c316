"""What helpline staff do, shared by the admin API and the ``amaan`` CLI.

Every change is audited in the same transaction as the change itself: who made it (the staff
account, or ``cli`` for a terminal session), the account or dataset it touched, the old and
new values, and the written reason for budget changes. Keys are shown once and never logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.errors import AmaanError, InvalidQuery, NotFound
from privacy import Epsilon, PrivacyError
from schema.access import (
    ROLES,
    Account,
    AccountBudget,
    ApiKey,
    AuditEntry,
    Grant,
    LedgerEntry,
    Release,
)
from schema.models import Dataset, utcnow
from schema.repositories import accounts as accounts_repo
from schema.repositories import audit
from schema.repositories.datasets import get_dataset

FLAG_SHARE = 0.8  # accounts at or above this share of their limit are flagged
MAX_ROWS = 10_000


class InvalidChange(AmaanError):
    status = 422
    code = "invalid_change"


@dataclass(frozen=True)
class Actor:
    """Who acts: a staff account over the API, or a terminal session (``account`` None)."""

    account: Account | None = None

    @property
    def id(self) -> int | None:
        return self.account.id if self.account else None

    @property
    def name(self) -> str:
        return f"account:{self.account.id}" if self.account else "cli"


def epsilon(value: str | float | int, what: str) -> Epsilon:
    try:
        eps = Epsilon.parse(str(value))
    except PrivacyError as exc:
        raise InvalidChange(f"{what}: {exc}") from None
    if eps.micro <= 0:
        raise InvalidChange(f"{what} must be greater than 0")
    return eps


def _reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise InvalidChange("a budget change needs a written reason")
    return text


def dataset_or_404(session: Session, slug: str) -> Dataset:
    dataset = get_dataset(session, slug.strip().lower())
    if dataset is None:
        raise NotFound(f"no dataset {slug!r}")
    return dataset


def account_or_404(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"no account {account_id}")
    return account


def _log(session: Session, actor: Actor, action: str, outcome: str, **fields: Any) -> None:
    detail = fields.pop("detail", {})
    audit.append(
        session,
        action=action,
        outcome=outcome,
        account_id=actor.id,
        detail={"by": actor.name, **detail},
        **fields,
    )


# Accounts, keys and grants.


def create_account(
    session: Session,
    actor: Actor,
    *,
    name: str,
    role: str,
    organisation: str = "",
    datasets: list[str] | tuple[str, ...] = (),
    budget: Epsilon | None = None,
    expires_at: datetime | None = None,
) -> tuple[Account, ApiKey, str]:
    """A new account with its grants, budgets (not for staff) and first key, shown once."""
    if role not in ROLES:
        raise InvalidChange(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not name.strip():
        raise InvalidChange("an account needs a name")
    found = [dataset_or_404(session, slug) for slug in datasets]
    account = accounts_repo.create_account(session, name=name, role=role, organisation=organisation)
    _log(
        session,
        actor,
        "account.create",
        "created",
        detail={"account": account.id, "role": role, "datasets": [d.slug for d in found]},
    )
    for dataset in found:
        accounts_repo.grant(session, account.id, dataset.id)
        if budget is not None and role != "admin":
            _set_budget(session, actor, account, dataset, budget, "new account")
    key, raw = issue_key(session, actor, account.id, expires_at=expires_at)
    return account, key, raw


def update_account(
    session: Session,
    actor: Actor,
    account_id: int,
    *,
    name: str | None = None,
    organisation: str | None = None,
    active: bool | None = None,
) -> Account:
    account = account_or_404(session, account_id)
    changes: dict[str, Any] = {}
    if name is not None:
        if not name.strip():
            raise InvalidChange("an account needs a name")
        changes["name"] = [account.name, name.strip()]
        account.name = name.strip()
    if organisation is not None:
        changes["organisation"] = [account.organisation, organisation.strip()]
        account.organisation = organisation.strip()
    if active is not None:
        if not active and actor.account is not None and actor.account.id == account.id:
            raise InvalidChange("staff cannot deactivate their own account")
        changes["active"] = [account.active, active]
        account.active = active
    session.flush()
    outcome = "deactivated" if active is False else "updated"
    _log(session, actor, "account.update", outcome, detail={"account": account.id, **changes})
    return account


def issue_key(
    session: Session,
    actor: Actor,
    account_id: int,
    *,
    label: str = "",
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    account = account_or_404(session, account_id)
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidChange("a key's expiry must lie in the future")
    key, raw = accounts_repo.issue_key(session, account.id, label=label, expires_at=expires_at)
    _log(session, actor, "key.issue", "issued", detail={"account": account.id, "key_id": key.id})
    return key, raw


def revoke_key(session: Session, actor: Actor, key_id: int) -> ApiKey:
    key = accounts_repo.revoke_key(session, key_id)
    if key is None:
        raise NotFound(f"no key {key_id}")
    _log(
        session,
        actor,
        "key.revoke",
        "revoked",
        detail={"account": key.account_id, "key_id": key_id},
    )
    return key


def set_grant(session: Session, actor: Actor, account_id: int, slug: str, granted: bool) -> None:
    account = account_or_404(session, account_id)
    dataset = dataset_or_404(session, slug)
    existing = session.get(Grant, (account.id, dataset.id))
    if granted and existing is None:
        accounts_repo.grant(session, account.id, dataset.id)
    elif not granted and existing is not None:
        session.delete(existing)
        session.flush()
    _log(
        session,
        actor,
        "grant.set" if granted else "grant.remove",
        "granted" if granted else "removed",
        dataset_id=dataset.id,
        detail={"account": account.id},
    )


# Budgets.


def _set_budget(
    session: Session,
    actor: Actor,
    account: Account,
    dataset: Dataset,
    limit: Epsilon,
    reason: str,
) -> tuple[int | None, int]:
    try:
        old, new = accounts_repo.set_account_budget(session, account.id, dataset.id, limit.micro)
    except ValueError as exc:
        raise InvalidChange(str(exc)) from None
    _log(
        session,
        actor,
        "budget.account",
        "set",
        dataset_id=dataset.id,
        epsilon_micro=new,
        detail={"account": account.id, "old_micro": old, "new_micro": new, "reason": reason},
    )
    return old, new


def set_account_budget(
    session: Session, actor: Actor, account_id: int, slug: str, limit: Epsilon, reason: str
) -> tuple[int | None, int]:
    """Set an account's limit on a dataset (granting it); audited with old, new and reason."""
    text = _reason(reason)
    account = account_or_404(session, account_id)
    if account.role == "admin":
        raise InvalidChange("staff accounts have no query budget; publications use the cap")
    dataset = dataset_or_404(session, slug)
    accounts_repo.grant(session, account.id, dataset.id)
    return _set_budget(session, actor, account, dataset, limit, text)


def set_dataset_budget(
    session: Session,
    actor: Actor,
    slug: str,
    cap: Epsilon,
    max_per_query: Epsilon,
    reason: str,
) -> dict[str, int]:
    text = _reason(reason)
    if max_per_query > cap:
        raise InvalidChange("the maximum per query must not exceed the cap")
    dataset = dataset_or_404(session, slug)
    try:
        old = accounts_repo.set_dataset_budget(session, dataset, cap.micro, max_per_query.micro)
    except ValueError as exc:
        raise InvalidChange(str(exc)) from None
    new = {"cap_micro": cap.micro, "max_per_query_micro": max_per_query.micro}
    _log(
        session,
        actor,
        "budget.dataset",
        "set",
        dataset_id=dataset.id,
        epsilon_micro=cap.micro,
        detail={"old": old, "new": new, "reason": text},
    )
    return old


# Reading: the overview, the ledger and the audit log.


def _share(spent: int, limit: int) -> float:
    return round(spent / limit, 4) if limit else 1.0


def overview(session: Session) -> dict[str, Any]:
    """Per dataset: cap, spent, remaining, share used. Per account and dataset: limit, spent,
    remaining, releases charged and cache hits; those at 80% or more first, flagged."""
    datasets = []
    for d in session.scalars(select(Dataset).order_by(Dataset.slug)):
        datasets.append(
            {
                "dataset": d.slug,
                "title": d.title,
                "cap": str(Epsilon(d.cap_micro)),
                "spent": str(Epsilon(d.spent_micro)),
                "remaining": str(Epsilon(d.cap_micro - d.spent_micro)),
                "share_used": _share(d.spent_micro, d.cap_micro),
                "max_per_query": str(Epsilon(d.max_per_query_micro)),
            }
        )
    return {"flag_share": FLAG_SHARE, "datasets": datasets, "accounts": account_budgets(session)}


def account_budgets(session: Session, account_id: int | None = None) -> list[dict[str, Any]]:
    """Each account's budget per dataset (only ``account_id``'s when given), with releases
    charged and cache hits; those at 80% or more of their limit first, flagged."""
    ledger = select(LedgerEntry.account_id, LedgerEntry.dataset_id, func.count()).where(
        LedgerEntry.kind == "query"
    )
    cache_hits = select(AuditEntry.account_id, AuditEntry.dataset_id, func.count()).where(
        AuditEntry.action == "query", AuditEntry.outcome == "cache_hit"
    )
    budgets = (
        select(AccountBudget, Account, Dataset)
        .join(Account, Account.id == AccountBudget.account_id)
        .join(Dataset, Dataset.id == AccountBudget.dataset_id)
    )
    if account_id is not None:
        ledger = ledger.where(LedgerEntry.account_id == account_id)
        cache_hits = cache_hits.where(AuditEntry.account_id == account_id)
        budgets = budgets.where(AccountBudget.account_id == account_id)
    charged = {
        (a, d): n
        for a, d, n in session.execute(
            ledger.group_by(LedgerEntry.account_id, LedgerEntry.dataset_id)
        )
    }
    hits = {
        (a, d): n
        for a, d, n in session.execute(
            cache_hits.group_by(AuditEntry.account_id, AuditEntry.dataset_id)
        )
    }
    rows: list[dict[str, Any]] = []
    for budget, account, dataset in session.execute(budgets):
        share = _share(budget.spent_micro, budget.limit_micro)
        rows.append(
            {
                "account_id": account.id,
                "name": account.name,
                "organisation": account.organisation,
                "role": account.role,
                "active": account.active,
                "dataset": dataset.slug,
                "limit": str(Epsilon(budget.limit_micro)),
                "spent": str(Epsilon(budget.spent_micro)),
                "remaining": str(Epsilon(budget.limit_micro - budget.spent_micro)),
                "share_used": share,
                "releases": charged.get((account.id, dataset.id), 0),
                "cache_hits": hits.get((account.id, dataset.id), 0),
                "flagged": share >= FLAG_SHARE,
            }
        )
    rows.sort(key=lambda r: (not r["flagged"], -float(r["share_used"]), int(r["account_id"])))
    return rows


@dataclass(frozen=True)
class Filters:
    account_id: int | None = None
    dataset: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    action: str | None = None
    limit: int = 1000

    def check(self) -> None:
        if not 1 <= self.limit <= MAX_ROWS:
            raise InvalidQuery(f"limit must be from 1 to {MAX_ROWS}")
        if self.since and self.until and self.since > self.until:
            raise InvalidQuery("since must not be after until")


def _filtered(session: Session, query: Any, table: Any, time: Any, f: Filters) -> Any:
    f.check()
    if f.account_id is not None:
        query = query.where(table.account_id == f.account_id)
    if f.dataset is not None:
        query = query.where(table.dataset_id == dataset_or_404(session, f.dataset).id)
    if f.since is not None:
        query = query.where(time >= f.since)
    if f.until is not None:
        query = query.where(time < f.until)
    return query.order_by(table.id.desc()).limit(f.limit)


LEDGER_COLUMNS = ["id", "at", "account_id", "dataset", "release_id", "kind", "epsilon"]


def ledger(session: Session, f: Filters) -> list[dict[str, Any]]:
    query = (
        select(LedgerEntry, Dataset.slug, Release.public_id)
        .join(Dataset, Dataset.id == LedgerEntry.dataset_id)
        .join(Release, Release.id == LedgerEntry.release_id)
    )
    query = _filtered(session, query, LedgerEntry, LedgerEntry.created_at, f)
    return [
        {
            "id": e.id,
            "at": e.created_at.isoformat(),
            "account_id": e.account_id,
            "dataset": slug,
            "release_id": public_id,
            "kind": e.kind,
            "epsilon": str(Epsilon(e.epsilon_micro)),
        }
        for e, slug, public_id in session.execute(query)
    ]


AUDIT_COLUMNS = [
    "id",
    "at",
    "account_id",
    "action",
    "outcome",
    "dataset",
    "version_id",
    "canonical_key",
    "epsilon",
    "detail",
    "hash",
]


def audit_log(session: Session, f: Filters) -> list[dict[str, Any]]:
    query = select(AuditEntry, Dataset.slug).outerjoin(Dataset, Dataset.id == AuditEntry.dataset_id)
    if f.action is not None:
        query = query.where(AuditEntry.action == f.action)
    query = _filtered(session, query, AuditEntry, AuditEntry.at, f)
    return [
        {
            "id": e.id,
            "at": e.at.isoformat(),
            "account_id": e.account_id,
            "action": e.action,
            "outcome": e.outcome,
            "dataset": slug,
            "version_id": e.version_id,
            "canonical_key": e.canonical_key,
            "epsilon": None if e.epsilon_micro is None else str(Epsilon(e.epsilon_micro)),
            "detail": e.detail,
            "hash": e.hash,
        }
        for e, slug in session.execute(query)
    ]


def account_view(session: Session, account_id: int) -> dict[str, Any]:
    account = account_or_404(session, account_id)
    keys = session.scalars(
        select(ApiKey).where(ApiKey.account_id == account.id).order_by(ApiKey.id)
    )
    grants = session.scalars(
        select(Dataset.slug)
        .join(Grant, Grant.dataset_id == Dataset.id)
        .where(Grant.account_id == account.id)
    )
    return {
        "account_id": account.id,
        "name": account.name,
        "organisation": account.organisation,
        "role": account.role,
        "active": account.active,
        "created_at": account.created_at.isoformat(),
        "datasets": sorted(grants),
        "keys": [
            {
                "key_id": k.id,
                "label": k.label,
                "created_at": k.created_at.isoformat(),
                "expires_at": k.expires_at.isoformat() if k.expires_at else None,
                "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
                "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
            }
            for k in keys
        ],
        "budgets": account_budgets(session, account.id),
    }
