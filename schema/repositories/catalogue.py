"""What a caller may see of the warehouse's public metadata: datasets, versions, budgets.

Every function is one statement. Nothing here reads case data: a version's coverage is
the period its loads declared, and budgets are the accounts' own.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schema import generation
from schema.access import AccountBudget, Grant, QueryBudget
from schema.models import Dataset, DatasetVersion

BUDGETS = "amaan_budgets"  # session.info: (account id, {dataset id: budget}), api.deps.verify
DatasetRow = tuple[Dataset, AccountBudget | None, list[DatasetVersion]]


def granted_datasets(
    session: Session, account_id: int, after: int | None = None, limit: int | None = None
) -> list[DatasetRow]:
    """The datasets granted to the account, by slug, each with the account's budget on it
    (None: no query budget) and its versions, oldest first; one join. A page by keyset:
    ``limit`` datasets whose slug follows that of the dataset of id ``after``."""
    page = (
        select(Dataset.id)
        .join(Grant, (Grant.dataset_id == Dataset.id) & (Grant.account_id == account_id))
        .order_by(Dataset.slug)
        .limit(limit)
    )
    if after is not None:
        last = select(Dataset.slug).where(Dataset.id == after).scalar_subquery()
        page = page.where(Dataset.slug > last)
    rows = session.execute(
        select(Dataset, AccountBudget, DatasetVersion)
        .join(Grant, (Grant.dataset_id == Dataset.id) & (Grant.account_id == account_id))
        .outerjoin(
            AccountBudget,
            (AccountBudget.dataset_id == Dataset.id) & (AccountBudget.account_id == account_id),
        )
        .outerjoin(DatasetVersion, DatasetVersion.dataset_id == Dataset.id)
        .where(Dataset.id.in_(page))
        .order_by(Dataset.slug, DatasetVersion.number)
    ).all()
    out: dict[int, DatasetRow] = {}
    for dataset, budget, version in rows:
        _, _, versions = out.setdefault(dataset.id, (dataset, budget, []))
        if version is not None:  # a dataset with no version yet has one row of NULLs
            versions.append(version)
    return list(out.values())


def granted_slugs(session: Session, account_id: int) -> list[str]:
    return list(
        session.scalars(
            select(Dataset.slug)
            .join(Grant, (Grant.dataset_id == Dataset.id) & (Grant.account_id == account_id))
            .order_by(Dataset.slug)
        )
    )


def budgets(session: Session, account_id: int) -> list[tuple[str, AccountBudget]]:
    """The account's query budgets, by dataset slug."""
    return [
        (slug, budget)
        for slug, budget in session.execute(
            select(Dataset.slug, AccountBudget)
            .join(AccountBudget, AccountBudget.dataset_id == Dataset.id)
            .where(AccountBudget.account_id == account_id)
            .order_by(Dataset.slug)
        )
    ]


def dataset_version(
    session: Session, account_id: int, slug: str, number: int | None, cached: bool = False
) -> tuple[Dataset, bool, DatasetVersion | None, QueryBudget | None] | None:
    """The dataset of ``slug``, whether it is granted to the account, its version ``number``
    (the newest when None; None when it has no such version) and the account's query budget
    on it (None: none); one round trip. ``cached``: the dataset, grant and version may come
    from the worker's cache (``schema.generation``: when this transaction read its token),
    and then only the budget is read. Cached objects are shared: read them, never change
    them (what changes a dataset loads it with ``cached`` False)."""
    key = ("dataset", account_id, slug, number)
    found = generation.get(session, key) if cached else None
    if found is not None:
        dataset, granted, version = found
        read = session.info.get(BUDGETS)  # the account's budgets, read with the token
        if read is not None and read[0] == account_id:
            return dataset, granted, version, read[1].get(dataset.id)
        return dataset, granted, version, session.get(AccountBudget, (account_id, dataset.id))
    newest = (
        select(func.max(DatasetVersion.number))
        .where(DatasetVersion.dataset_id == Dataset.id)
        .correlate(Dataset)
        .scalar_subquery()
    )
    row = session.execute(
        select(Dataset, Grant.account_id, DatasetVersion, AccountBudget, generation.token_column())
        .outerjoin(Grant, (Grant.dataset_id == Dataset.id) & (Grant.account_id == account_id))
        .outerjoin(
            DatasetVersion,
            (DatasetVersion.dataset_id == Dataset.id)
            & (DatasetVersion.number == (newest if number is None else number)),
        )
        .outerjoin(
            AccountBudget,
            (AccountBudget.dataset_id == Dataset.id) & (AccountBudget.account_id == account_id),
        )
        .where(Dataset.slug == slug)
    ).one_or_none()
    if row is None:
        return None
    dataset, granted, version, budget, token = row
    if cached and version is not None:
        generation.saw(session, token)
        generation.put(session, key, (dataset, granted is not None, version))
    return dataset, granted is not None, version, budget
