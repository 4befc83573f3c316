"""REST request and response bodies (snake_case twins of the GraphQL contract)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

# Bounded and strict (no strings for numbers, no booleans for numbers); the ranges of ε, the
# margin of error and the confidence are checked by the release service, with the same errors
# for REST and GraphQL.
Name = Annotated[str, Field(max_length=40)]
Number = Annotated[float | None, Field(default=None, allow_inf_nan=False)]
# ε is held in integer micro-ε and written as a JSON number: its six decimals are exact.
EXACT = "ε, a number exact to six decimals"


class FilterIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    dimension: Name
    values: list[Name] = Field(min_length=1, max_length=1000)


class PeriodIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)
    from_: Annotated[str | None, Field(default=None, alias="from", max_length=16)]
    to: Annotated[str | None, Field(default=None, max_length=16)]


Word = Annotated[str | None, Field(default=None, max_length=40)]


class StatisticIn(BaseModel):
    """A share, change or rate over the release (``api.statistics`` checks it, naming the
    field and its valid values)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)
    kind: str = Field(max_length=16, description="share, change or rate")
    of: Word = Field(default=None, description="share: the grouped dimension to total over")
    from_: Word = Field(default=None, alias="from", description="change: YYYY, YYYY-Qn or YYYY-MM")
    to: Word = Field(default=None, description="change: the later period, like from")
    per: Word = Field(default=None, description="rate: month")

    def asked(self) -> dict[str, str | None]:
        return {
            "kind": self.kind,
            "of": self.of,
            "from": self.from_,
            "to": self.to,
            "per": self.per,
        }


class QueryIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    dataset: str = Field(max_length=64)
    group_by: list[Name] = Field(max_length=10)
    filters: list[FilterIn] = Field(default_factory=list, max_length=20)
    period: PeriodIn | None = None
    epsilon: Number = None
    margin_of_error: Number = None
    confidence: Number = None
    statistic: StatisticIn | None = None
    source: Literal["summary", "direct"] | None = Field(
        default=None,
        description="summary: only from the version's published summary (free); direct: a "
        "charged measurement; omitted: from the summary when it covers the query",
    )


class KeyOut(BaseModel):
    code: str
    label: str
    label_ur: str


class CellOut(BaseModel):
    key: dict[str, KeyOut] = Field(description="by dimension, in the release's group_by order")
    count: int | None
    suppressed: bool
    reason: str | None
    lower: int | None
    upper: int | None
    total: bool


class IntervalOut(BaseModel):
    value: float | None
    lower: float | None
    upper: float | None = Field(description="null: unbounded")


class StatisticCellOut(BaseModel):
    key: dict[str, KeyOut] = Field(description="by dimension: those the statistic keeps")
    value: float | None = Field(description="share 4 decimals, rate 1, change a whole number")
    lower: float | None
    upper: float | None
    percent: IntervalOut | None = Field(description="a change, in percent (1 decimal)")
    suppressed: bool
    reason: str | None = Field(description="count_suppressed, total_suppressed or not_computable")


class StatisticOut(BaseModel):
    kind: str
    of: str | None
    from_: str | None = Field(alias="from")
    to: str | None
    per: str | None
    months: int | None = Field(description="a rate's months")
    confidence: float
    cells: list[StatisticCellOut]


class ReleaseOut(BaseModel):
    release_id: str
    cached: bool
    epsilon_charged: float = Field(description=EXACT)
    budget_remaining: float | None = Field(description=EXACT)
    dataset: str
    dataset_version: int
    noise_scale: float
    margin_of_error: int
    confidence: float
    threshold: int
    sensitive_threshold: int
    mechanism: str
    interpretation: str
    privacy_unit: str | None = None
    contribution_bound: int | None = None
    rounding: int | None = None
    margins: bool = False
    derived_from: str | None = Field(
        default=None, description="the summary this answer was derived from, at no charge"
    )
    cells: list[CellOut]
    statistic: StatisticOut | None = Field(
        default=None, description="the statistic asked for, computed from these cells, free"
    )


class ProposalOut(BaseModel):
    group_by: list[str]
    cells: int
    suppressed: int = Field(description="cells predicted suppressed")


class EstimateOut(BaseModel):
    epsilon: float = Field(description=EXACT)
    margin_of_error: int
    cells: int
    cached: bool
    covered: bool = Field(description="answered from the version's summary, free")
    derived_from: str | None = Field(description="the summary that would answer it")
    derived_margin_of_error: int | None = Field(
        description="the largest half-width of the summary's intervals, at the confidence asked"
    )
    predicted_suppressed: int | None = Field(
        description="cells the summary's estimates predict suppressed; null: cannot predict"
    )
    coarser: list[ProposalOut] | None = Field(
        description="when most cells would be blank: coarser tables the summary covers"
    )
    prediction: str


class VersionOut(BaseModel):
    number: int
    first_month: str = Field(description="declared coverage, YYYY-MM, inclusive")
    last_month: str


class PrivacySettingsOut(BaseModel):
    max_cases_per_person: int
    max_values_per_case: dict[str, int] = Field(description="per multi-valued dimension")
    max_epsilon_per_query: float = Field(description=EXACT)


class DatasetOut(BaseModel):
    slug: str
    title: str
    versions: list[VersionOut]
    privacy: PrivacySettingsOut
    budget_remaining: float | None = Field(description=f"null: no query budget; {EXACT}")


class DatasetPage(BaseModel):
    items: list[DatasetOut]
    next: str | None = Field(description="the cursor of the next page; null: the last page")


class CodeOut(BaseModel):
    code: str
    label: str
    label_ur: str
    sensitive: bool


class DimensionOut(BaseModel):
    name: str
    time: bool
    rollup_of: str | None = Field(description="the dimension this one is derived from")
    multi_valued: bool
    codes: list[CodeOut]


class BudgetOut(BaseModel):
    dataset: str
    limit: float = Field(description=EXACT)
    spent: float = Field(description=EXACT)
    remaining: float = Field(description=EXACT)


class MeOut(BaseModel):
    id: int
    name: str
    organisation: str
    role: str
    budgets: list[BudgetOut]


class ReleaseListItem(BaseModel):
    release_id: str
    kind: Literal["publication", "query"]
    title: str | None
    description: str | None
    dataset: str
    dataset_version: int
    group_by: list[str]
    epsilon: float = Field(description=EXACT)
    rounding: int | None
    margins: bool
    failed: bool = Field(description="charged, but failed after its data was read: no cells")
    released_at: datetime


class ReleasePage(BaseModel):
    items: list[ReleaseListItem]
    next: str | None = Field(description="the cursor of the next page; null: the last page")


# Parsed by ``api.pages`` (the same rules and errors as GraphQL's arguments).
Limit = Annotated[
    str | None, Query(max_length=8, description="rows a page, 1 to 500 (default 100)")
]
Cursor = Annotated[str | None, Query(max_length=64, description="the `next` of the previous page")]


class ReleaseMetadataOut(BaseModel):
    release_id: str
    dataset: str
    dataset_title: str
    dataset_version: int
    group_by: list[str]
    query: dict[str, Any]
    epsilon: float = Field(description=EXACT)
    mechanism: str
    privacy_unit: str
    contribution_bound: int
    noise_scale: float
    margin_of_error: int
    confidence: float
    threshold: int
    sensitive_threshold: int
    rounding: int | None
    margins: bool
    interpretation: str
    released_at: str
    title: str | None
    description: str | None


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")  # details such as limit, remaining, valid codes
    code: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "missing, wrong, revoked or expired API key"},
    403: {"model": ErrorOut, "description": "not allowed for this role, or over a budget"},
    404: {"model": ErrorOut, "description": "not found, or not available to this account"},
    409: {"model": ErrorOut, "description": "conflicts with the current state"},
    422: {"model": ErrorOut, "description": "the request is invalid; the error names why"},
    429: {"model": ErrorOut, "description": "rate limited; see Retry-After"},
}
