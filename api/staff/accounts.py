"""Accounts, API keys and grants: created, changed and viewed by staff, each change audited.

A new key is returned once (``IssuedKey.key``) and only its hash is stored; views of an
account show its keys' dates, never the keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from api.errors import InvalidChange, NotFound
from api.staff import budgets
from api.staff.common import Actor, account_or_404, dataset_or_404, log
from privacy import Epsilon
from schema.access import Account, ApiKey, Role
from schema.models import utcnow
from schema.repositories import accounts as accounts_repo


@dataclass(frozen=True)
class AccountSummary:
    account_id: int
    name: str
    organisation: str
    role: str
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, a: Account) -> AccountSummary:
        return cls(a.id, a.name, a.organisation, a.role, a.active, a.created_at)


@dataclass(frozen=True)
class KeySummary:
    key_id: int
    account_id: int
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, k: ApiKey) -> KeySummary:
        return cls(
            k.id, k.account_id, k.label, k.created_at, k.expires_at, k.revoked_at, k.last_used_at
        )


@dataclass(frozen=True)
class AccountView(AccountSummary):
    datasets: list[str]
    keys: list[KeySummary]
    budgets: list[budgets.AccountSpend]


@dataclass(frozen=True)
class IssuedKey:
    account_id: int
    key_id: int
    key: str  # shown once; only its hash is kept


def create_account(
    session: Session,
    actor: Actor,
    *,
    name: str,
    role: Role,
    organisation: str = "",
    datasets: Sequence[str] = (),
    budget: Epsilon | None = None,
    expires_at: datetime | None = None,
) -> IssuedKey:
    """A new account with its grants, budgets (not for staff) and first key, shown once."""
    try:
        account = accounts_repo.create_account(
            session, name=name, role=role, organisation=organisation
        )
    except ValueError as exc:  # the repository knows the roles; nothing else checks them
        raise InvalidChange(str(exc)) from None
    found = [dataset_or_404(session, slug) for slug in datasets]
    log(
        session,
        actor,
        "account.create",
        "created",
        detail={"account": account.id, "role": role, "datasets": [d.slug for d in found]},
    )
    for dataset in found:
        accounts_repo.grant(session, account.id, dataset.id)
        if budget is not None and role != "admin":
            budgets.set_limit(session, actor, account, dataset, budget, "new account")
    return issue_key(session, actor, account.id, expires_at=expires_at)


def update_account(
    session: Session,
    actor: Actor,
    account_id: int,
    *,
    name: str | None = None,
    organisation: str | None = None,
    active: bool | None = None,
) -> AccountView:
    """Rename, move or (de)activate an account; deactivating stops its keys at once."""
    account = account_or_404(session, account_id)
    if active is False and actor.account is not None and actor.account.id == account.id:
        raise InvalidChange("staff cannot deactivate their own account")
    try:
        changes = accounts_repo.update_account(
            session, account, name=name, organisation=organisation, active=active
        )
    except ValueError as exc:
        raise InvalidChange(str(exc)) from None
    outcome = "deactivated" if active is False else "updated"
    log(session, actor, "account.update", outcome, detail={"account": account.id, **changes})
    return view(session, account_id)


def issue_key(
    session: Session,
    actor: Actor,
    account_id: int,
    *,
    label: str = "",
    expires_at: datetime | None = None,
) -> IssuedKey:
    account = account_or_404(session, account_id)
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidChange("a key's expiry must lie in the future", field="expires_at")
    key, raw = accounts_repo.issue_key(session, account.id, label=label, expires_at=expires_at)
    log(session, actor, "key.issue", "issued", detail={"account": account.id, "key_id": key.id})
    return IssuedKey(account.id, key.id, raw)


def revoke_key(session: Session, actor: Actor, key_id: int) -> KeySummary:
    key = accounts_repo.revoke_key(session, key_id)
    if key is None:
        raise NotFound(f"no key {key_id}")
    log(
        session,
        actor,
        "key.revoke",
        "revoked",
        detail={"account": key.account_id, "key_id": key_id},
    )
    return KeySummary.of(key)


def set_grant(session: Session, actor: Actor, account_id: int, slug: str, granted: bool) -> None:
    account = account_or_404(session, account_id)
    dataset = dataset_or_404(session, slug)
    if granted:
        accounts_repo.grant(session, account.id, dataset.id)
    else:
        accounts_repo.remove_grant(session, account.id, dataset.id)
    log(
        session,
        actor,
        "grant.set" if granted else "grant.remove",
        "granted" if granted else "removed",
        dataset_id=dataset.id,
        detail={"account": account.id},
    )


def listed(
    session: Session, after: int | None = None, limit: int | None = None
) -> list[AccountSummary]:
    """Every account, by id (a page: ``limit`` of them after the id ``after``)."""
    return [AccountSummary.of(a) for a in accounts_repo.all_accounts(session, after, limit)]


def view(session: Session, account_id: int) -> AccountView:
    """An account with its grants, keys (never the keys themselves) and budgets."""
    account = account_or_404(session, account_id)
    return AccountView(
        **vars(AccountSummary.of(account)),
        datasets=accounts_repo.granted(session, account.id),
        keys=[KeySummary.of(k) for k in accounts_repo.keys_of(session, account.id)],
        budgets=budgets.account_spend(session, account.id),
    )


def key_and_owner(session: Session, key_id: int) -> tuple[KeySummary, AccountSummary]:
    """A key (never the key itself) and its account, for the confirmation of a revocation."""
    key = accounts_repo.get_key(session, key_id)
    if key is None:
        raise NotFound(f"no key {key_id}")
    return KeySummary.of(key), AccountSummary.of(account_or_404(session, key.account_id))


def active_partners(session: Session) -> list[AccountSummary]:
    """The partners an extract may be published to, by name."""
    return [AccountSummary.of(a) for a in accounts_repo.active_partners(session)]
