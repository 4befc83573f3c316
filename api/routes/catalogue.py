"""Public metadata for callers: datasets, code lists, and who I am."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from api.deps import PrincipalDep, SessionDep, SettingsDep
from privacy import Epsilon
from schema.access import AccountBudget, Grant
from schema.codelists import codelists
from schema.models import Dataset, DatasetVersion

router = APIRouter(tags=["catalogue"])


@router.get("/datasets")
def get_datasets(session: SessionDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Dataset, AccountBudget)
        .join(Grant, Grant.dataset_id == Dataset.id)
        .outerjoin(
            AccountBudget,
            (AccountBudget.dataset_id == Dataset.id) & (AccountBudget.account_id == principal.id),
        )
        .where(Grant.account_id == principal.id)
        .order_by(Dataset.slug)
    ).all()
    out = []
    for dataset, budget in rows:
        versions = session.scalars(
            select(DatasetVersion)
            .where(DatasetVersion.dataset_id == dataset.id)
            .order_by(DatasetVersion.number)
        ).all()
        out.append(
            {
                "slug": dataset.slug,
                "title": dataset.title,
                "versions": [
                    {"number": v.number, "first_month": v.first_month, "last_month": v.last_month}
                    for v in versions
                ],
                "privacy": {
                    "max_cases_per_person": dataset.max_cases_per_person,
                    "max_values_per_case": {
                        "vulnerable_group": dataset.max_vulnerable_groups,
                        "referral": dataset.max_referrals,
                    },
                    "max_epsilon_per_query": str(Epsilon(dataset.max_per_query_micro)),
                },
                "budget_remaining": None
                if budget is None
                else str(Epsilon(budget.limit_micro - budget.spent_micro)),
            }
        )
    return out


@router.get("/dimensions")
def get_dimensions(principal: PrincipalDep, settings: SettingsDep) -> list[dict[str, Any]]:
    lists = codelists()
    sensitive = settings.sensitive_values
    dims: list[dict[str, Any]] = [
        {"name": name, "multi_valued": False, "codes": "months of the dataset version"}
        for name in ("month", "quarter", "year")
    ]
    for dim in lists.dimensions.values():
        dims.append(
            {
                "name": dim.name,
                "multi_valued": dim.multi,
                "codes": [
                    {
                        "code": c.code,
                        "label": c.en,
                        "label_ur": c.ur,
                        "sensitive": c.code in sensitive.get(dim.name, []),
                    }
                    for c in dim.codes
                ],
            }
        )
    return dims


@router.get("/me")
def get_me(session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    budgets = session.execute(
        select(Dataset.slug, AccountBudget)
        .join(AccountBudget, AccountBudget.dataset_id == Dataset.id)
        .where(AccountBudget.account_id == principal.id)
    ).all()
    return {
        "id": principal.id,
        "name": principal.name,
        "organisation": principal.organisation,
        "role": principal.role,
        "budgets": [
            {
                "dataset": slug,
                "limit": str(Epsilon(b.limit_micro)),
                "spent": str(Epsilon(b.spent_micro)),
                "remaining": str(Epsilon(b.limit_micro - b.spent_micro)),
            }
            for slug, b in budgets
        ],
    }
