"""Public metadata for callers: datasets, dimensions and their codes, and who I am.

Thin over ``api.catalogue`` (which GraphQL adapts too); ε is a JSON number, exact to six decimals.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api import catalogue, pages
from api.deps import PrincipalDep, SessionDep, SettingsDep
from api.schemas import (
    BudgetOut,
    CodeOut,
    Cursor,
    DatasetOut,
    DatasetPage,
    DimensionOut,
    Limit,
    MeOut,
    PrivacySettingsOut,
    VersionOut,
)

router = APIRouter(tags=["catalogue"])

DatasetParam = Annotated[
    str | None,
    Query(
        max_length=64,
        description="the dataset whose time codes to list (default: your only dataset)",
    ),
]
VersionParam = Annotated[
    str | None,
    Query(pattern=r"^[1-9][0-9]{0,8}$", description="its version (default: the newest)"),
]


@router.get("/datasets", response_model=DatasetPage)
def get_datasets(
    session: SessionDep, principal: PrincipalDep, limit: Limit = None, cursor: Cursor = None
) -> DatasetPage:
    """The datasets granted to you, by slug: versions and their declared coverage, privacy
    settings, and the budget you have left on each; a page at a time (pass ``next`` as
    ``cursor`` for the next page)."""
    page = pages.parse(limit, cursor, catalogue.DATASET_PARTS)
    found, following = catalogue.datasets(session, principal, page)
    items = [
        DatasetOut(
            slug=d.slug,
            title=d.title,
            versions=[VersionOut(**vars(v)) for v in d.versions],
            privacy=PrivacySettingsOut(
                max_cases_per_person=d.max_cases_per_person,
                max_values_per_case=d.max_values_per_case,
                max_epsilon_per_query=d.max_epsilon_per_query.as_float(),
            ),
            budget_remaining=None if d.budget_remaining is None else d.budget_remaining.as_float(),
        )
        for d in found
    ]
    return DatasetPage(items=items, next=following)


@router.get("/dimensions", response_model=list[DimensionOut])
def get_dimensions(
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    dataset: DatasetParam = None,
    version: VersionParam = None,
) -> list[DimensionOut]:
    """Every dimension a query may group or filter by, with its codes, English and Urdu
    labels and sensitive flags; month, quarter and year list the codes of the dataset
    version's declared coverage (``?dataset=&version=``)."""
    number = None if version is None else int(version)
    return [
        DimensionOut(
            name=d.name,
            time=d.time,
            rollup_of=d.rollup_of,
            multi_valued=d.multi_valued,
            codes=[CodeOut(**vars(c)) for c in d.codes],
        )
        for d in catalogue.dimensions(session, principal, settings, dataset, number)
    ]


@router.get("/me", response_model=MeOut)
def get_me(session: SessionDep, principal: PrincipalDep) -> MeOut:
    """Your account and your query budgets."""
    me = catalogue.me(session, principal)
    return MeOut(
        id=me.id,
        name=me.name,
        organisation=me.organisation,
        role=me.role,
        budgets=[
            BudgetOut(
                dataset=b.dataset,
                limit=b.limit.as_float(),
                spent=b.spent.as_float(),
                remaining=b.remaining.as_float(),
            )
            for b in me.budgets
        ],
    )
