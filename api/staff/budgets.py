"""Budgets: an account's limit on a dataset, a dataset's cap and per-query maximum, and the
overview staff review them in. Every change needs a written reason and is audited with the
old and new values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from api.errors import InvalidChange
from api.staff.common import Actor, account_or_404, dataset_or_404, log, reason
from privacy import Epsilon
from schema.access import Account
from schema.models import Dataset
from schema.repositories import accounts as accounts_repo
from schema.repositories import budgets as budgets_repo

FLAG_SHARE = 0.8  # accounts at or above this share of their limit are flagged


def like_last(remaining: Epsilon, last: Epsilon | None) -> int | None:
    """How many more charges like ``last`` fit in ``remaining``: budgets in words people
    grasp. From ε figures only (public to staff), never from case data."""
    if last is None or last.micro <= 0:
        return None
    return remaining.micro // last.micro


@dataclass(frozen=True)
class DatasetLimits:
    """A dataset's cap and the most one query may spend; never more per query than the cap."""

    cap: Epsilon
    max_per_query: Epsilon

    def __post_init__(self) -> None:
        if self.max_per_query > self.cap:
            raise InvalidChange(
                "the maximum per query must not exceed the cap",
                field="max_per_query",
                not_above="cap",
            )


@dataclass(frozen=True)
class LimitChange:
    account_id: int
    dataset: str
    old: Epsilon | None  # None: the account had no budget on the dataset
    new: Epsilon


@dataclass(frozen=True)
class DatasetChange:
    dataset: str
    old: DatasetLimits
    new: DatasetLimits


@dataclass(frozen=True)
class DatasetSpend:
    dataset: str
    title: str
    cap: Epsilon
    spent: Epsilon
    remaining: Epsilon
    share_used: float
    max_per_query: Epsilon
    last_charge: Epsilon | None = None  # the newest charge to the cap, None before any

    @property
    def more_like_last(self) -> int | None:
        return like_last(self.remaining, self.last_charge)


@dataclass(frozen=True)
class AccountSpend:
    account_id: int
    name: str
    organisation: str
    role: str
    active: bool
    dataset: str
    limit: Epsilon
    spent: Epsilon
    remaining: Epsilon
    share_used: float
    releases: int  # queries charged
    cache_hits: int
    flagged: bool  # at or above FLAG_SHARE of the limit
    last_charge: Epsilon | None = None  # the account's newest charge here, None before any

    @property
    def more_like_last(self) -> int | None:
        return like_last(self.remaining, self.last_charge)


@dataclass(frozen=True)
class Overview:
    flag_share: float
    datasets: list[DatasetSpend]
    accounts: list[AccountSpend]


def set_limit(
    session: Session, actor: Actor, account: Account, dataset: Dataset, limit: Epsilon, why: str
) -> LimitChange:
    """Set a limit that has been checked; audited with the old and new values."""
    try:
        old, new = accounts_repo.set_account_budget(session, account.id, dataset.id, limit.micro)
    except ValueError as exc:
        raise InvalidChange(str(exc)) from None
    log(
        session,
        actor,
        "budget.account",
        "set",
        dataset_id=dataset.id,
        epsilon_micro=new,
        detail={"account": account.id, "old_micro": old, "new_micro": new, "reason": why},
    )
    return LimitChange(account.id, dataset.slug, None if old is None else Epsilon(old), limit)


def set_account_budget(
    session: Session, actor: Actor, account_id: int, slug: str, limit: Epsilon, why: str
) -> LimitChange:
    """Set an account's limit on a dataset (granting it), with a written reason."""
    text = reason(why)
    account = account_or_404(session, account_id)
    if account.role == "admin":
        raise InvalidChange("staff accounts have no query budget; publications use the cap")
    dataset = dataset_or_404(session, slug)
    accounts_repo.grant(session, account.id, dataset.id)
    return set_limit(session, actor, account, dataset, limit, text)


def set_dataset_budget(
    session: Session, actor: Actor, slug: str, limits: DatasetLimits, why: str
) -> DatasetChange:
    """Set a dataset's cap and per-query maximum, with a written reason."""
    text = reason(why)
    dataset = dataset_or_404(session, slug)
    cap, per_query = limits.cap.micro, limits.max_per_query.micro
    try:
        old = accounts_repo.set_dataset_budget(session, dataset, cap, per_query)
    except ValueError as exc:
        raise InvalidChange(str(exc)) from None
    log(
        session,
        actor,
        "budget.dataset",
        "set",
        dataset_id=dataset.id,
        epsilon_micro=cap,
        detail={
            "old": old,
            "new": {"cap_micro": cap, "max_per_query_micro": per_query},
            "reason": text,
        },
    )
    before = DatasetLimits(Epsilon(old["cap_micro"]), Epsilon(old["max_per_query_micro"]))
    return DatasetChange(dataset.slug, before, limits)


@dataclass(frozen=True)
class Spend:
    at: datetime
    epsilon: Epsilon
    account_id: int
    name: str


def spending(session: Session, slug: str) -> list[Spend]:
    """Every charge on a dataset, oldest first, with the name of the account charged."""
    dataset = dataset_or_404(session, slug)
    return [
        Spend(at, Epsilon(micro), account_id, name)
        for at, micro, account_id, name in budgets_repo.spending(session, dataset.id)
    ]


def dataset_slugs(session: Session) -> list[str]:
    """Every dataset's slug, sorted (for the forms that name one)."""
    return budgets_repo.dataset_slugs(session)


def _share(spent: int, limit: int) -> float:
    return round(spent / limit, 4) if limit else 1.0


def overview(session: Session) -> Overview:
    """Per dataset: cap, spent, remaining, share used. Per account and dataset: limit, spent,
    remaining, releases charged and cache hits; those at 80% or more first, flagged."""
    last = budgets_repo.last_dataset_charges(session)
    datasets = [
        DatasetSpend(
            d.slug,
            d.title,
            Epsilon(d.cap_micro),
            Epsilon(d.spent_micro),
            Epsilon(d.cap_micro - d.spent_micro),
            _share(d.spent_micro, d.cap_micro),
            Epsilon(d.max_per_query_micro),
            None if d.id not in last else Epsilon(last[d.id]),
        )
        for d in budgets_repo.datasets(session)
    ]
    return Overview(FLAG_SHARE, datasets, account_spend(session))


def account_spend(session: Session, account_id: int | None = None) -> list[AccountSpend]:
    """Each account's budget per dataset (only ``account_id``'s when given), with releases
    charged and cache hits; those at 80% or more of their limit first, flagged."""
    rows = []
    for b, a, d, releases, hits, last in budgets_repo.account_budgets(session, account_id):
        share = _share(b.spent_micro, b.limit_micro)
        rows.append(
            AccountSpend(
                a.id,
                a.name,
                a.organisation,
                a.role,
                a.active,
                d.slug,
                Epsilon(b.limit_micro),
                Epsilon(b.spent_micro),
                Epsilon(b.limit_micro - b.spent_micro),
                share,
                releases,
                hits,
                share >= FLAG_SHARE,
                None if last is None else Epsilon(last),
            )
        )
    rows.sort(key=lambda r: (not r.flagged, -r.share_used, r.account_id))
    return rows
