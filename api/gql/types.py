"""GraphQL types: the interface contract that researchers' scripts and notebooks rely on."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from schema.vocabulary import NAMES

# Generated from the vocabulary: one member per dimension, named in upper case, its value the
# dimension's name; the SDL lists them in the vocabulary's order.
Dimension = enum.Enum(  # type: ignore[misc]  # members from data, not literals
    "Dimension", [(name.upper(), name) for name in NAMES], module=__name__
)
strawberry.enum(Dimension)


@strawberry.input
class FilterInput:
    dimension: Dimension
    values: list[str]


@strawberry.input
class PeriodInput:
    from_: str | None = strawberry.field(default=None, name="from")
    to: str | None = None


@strawberry.input
class CountQueryInput:
    dataset: str
    group_by: list[Dimension]
    filters: list[FilterInput] | None = None
    period: PeriodInput | None = None
    epsilon: float | None = None
    margin_of_error: float | None = None
    confidence: float | None = None


@strawberry.type
class CellKey:
    dimension: str
    code: str
    label: str
    label_ur: str


@strawberry.type
class Cell:
    key: list[CellKey]
    count: int | None
    suppressed: bool
    reason: str | None
    lower: int | None
    upper: int | None
    total: bool


@strawberry.type
class CountRelease:
    release_id: str
    cached: bool
    epsilon_charged: float
    budget_remaining: float | None
    dataset: str
    dataset_version: int
    noise_scale: float
    margin_of_error: int
    confidence: float
    threshold: int
    sensitive_threshold: int
    mechanism: str
    interpretation: str
    cells: list[Cell]


@strawberry.type
class Estimate:
    epsilon: float
    margin_of_error: int
    cells: int
    cached: bool


@strawberry.type
class DatasetVersionInfo:
    number: int
    first_month: str
    last_month: str


@strawberry.type
class DatasetInfo:
    slug: str
    title: str
    versions: list[DatasetVersionInfo]
    max_cases_per_person: int
    max_vulnerable_groups: int
    max_referrals: int
    max_epsilon_per_query: float
    budget_remaining: float | None


@strawberry.type
class CodeInfo:
    code: str
    label: str
    label_ur: str
    sensitive: bool


@strawberry.type
class DimensionInfo:
    name: Dimension
    multi_valued: bool
    codes: list[CodeInfo]
    time: bool
    rollup_of: Dimension | None


@strawberry.type
class Budget:
    dataset: str
    limit: float
    spent: float
    remaining: float


@strawberry.type
class Me:
    id: int
    name: str
    organisation: str
    role: str
    budgets: list[Budget]


@strawberry.type
class ReleaseSummary:
    release_id: str
    dataset: str
    dataset_version: int
    epsilon: float
    created_at: str  # the same moment as released_at, as ISO 8601 text (kept for old clients)
    kind: str  # "publication" or "query"
    title: str | None
    description: str | None
    group_by: list[Dimension]
    rounding: int | None
    margins: bool
    failed: bool
    released_at: datetime
