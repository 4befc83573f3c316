"""GraphQL types: the interface contract that researchers' scripts and notebooks rely on.

Every type, field and argument carries a description (``about``), shown by GraphiQL and kept
in ``docs/schema.graphql``; ``tests/api/test_graphql.py`` fails on one without.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar, cast

import strawberry

from schema.vocabulary import NAMES

# Generated from the vocabulary: one member per dimension, named in upper case, its value the
# dimension's name; the SDL lists them in the vocabulary's order.
Dimension = enum.Enum(  # type: ignore[misc]  # members from data, not literals
    "Dimension", [(name.upper(), name) for name in NAMES], module=__name__
)
strawberry.enum(Dimension, description="A dimension a query may group or filter by.")


@strawberry.enum(description="Where a count comes from.")
class Source(enum.Enum):
    SUMMARY = "summary"  # only from the version's published summary, free
    DIRECT = "direct"  # a charged measurement


def about(description: str, **kwargs: Any) -> Any:
    """A field with its description (the field's type stays the annotation's)."""
    return strawberry.field(description=description, **kwargs)


Resolver = TypeVar("Resolver", bound=Callable[..., Any])


def field(description: str) -> Callable[[Resolver], Resolver]:
    """``strawberry.field(description=...)``, typed for mypy like the bare decorator."""
    return cast(Callable[[Resolver], Resolver], strawberry.field(description=description))


def mutation(description: str) -> Callable[[Resolver], Resolver]:
    return cast(Callable[[Resolver], Resolver], strawberry.mutation(description=description))


EPSILON = "ε, exact to six decimals"
DatasetArgument = Annotated[
    str | None,
    strawberry.argument(description="the dataset's slug (default: your only dataset)"),
]
VersionArgument = Annotated[
    int | None, strawberry.argument(description="the dataset's version (default: the newest)")
]


@strawberry.input(description="Keep only cells whose dimension takes one of these codes.")
class FilterInput:
    dimension: Dimension = about("the dimension to filter on")
    values: list[str] = about("codes or English labels to keep, any case (see `dimensions`)")


@strawberry.input(description="The months or years to count, inclusive.")
class PeriodInput:
    from_: str | None = about("first month (YYYY-MM) or year (YYYY)", default=None, name="from")
    to: str | None = about("last month (YYYY-MM) or year (YYYY)", default=None)


@strawberry.enum(description="A statistic over a count table.")
class StatisticKind(enum.Enum):
    SHARE = "share"
    CHANGE = "change"
    RATE = "rate"


@strawberry.input(description="A share, change or rate over the table, free (no new noise).")
class StatisticInput:
    kind: StatisticKind = about("share (of a dimension), change (from, to) or rate (per)")
    of: Dimension | None = about("share: the grouped dimension to total over", default=None)
    from_: str | None = about(
        "change: the earlier year (YYYY), quarter (YYYY-Qn) or month (YYYY-MM)",
        default=None,
        name="from",
    )
    to: str | None = about("change: the later period, like from", default=None)
    per: str | None = about('rate: "month"', default=None)


@strawberry.input(description="A count query: give `epsilon` or a target `marginOfError`.")
class CountQueryInput:
    dataset: str = about("the dataset's slug")
    group_by: list[Dimension] = about("the dimensions to group by (one cell per combination)")
    filters: list[FilterInput] | None = about("codes to keep, per dimension", default=None)
    period: PeriodInput | None = about("the period to count (default: all)", default=None)
    epsilon: float | None = about(f"the privacy loss to spend ({EPSILON})", default=None)
    margin_of_error: float | None = about(
        "the target half-width of each cell's interval, instead of ε", default=None
    )
    confidence: float | None = about("the intervals' confidence (default 0.95)", default=None)
    statistic: StatisticInput | None = about(
        "a share, change or rate of the counts, at the same confidence", default=None
    )
    source: Source | None = about(
        "SUMMARY: only from the version's summary (free); DIRECT: a charged measurement; "
        "omitted: from the summary when it covers the query",
        default=None,
    )


QueryArgument = Annotated[CountQueryInput, strawberry.argument(description="the count query")]


@strawberry.type(description="One value of a cell's key: a dimension's code and labels.")
class CellKey:
    dimension: str = about("the dimension")
    code: str = about("its code")
    label: str = about("the code's English label")
    label_ur: str = about("the code's Urdu label")


@strawberry.type(description="One cell of a count table: a noisy count and its interval.")
class Cell:
    key: list[CellKey] = about("the cell's codes, one per grouped dimension")
    count: int | None = about("the noisy count; null when suppressed")
    suppressed: bool = about("hidden: the noisy count was below the threshold")
    reason: str | None = about("why the cell is suppressed")
    lower: int | None = about("lower bound of the interval at the confidence asked")
    upper: int | None = about("upper bound of the interval at the confidence asked")
    total: bool = about("a margin row (its codes are TOTAL)")


@strawberry.type(description="An estimate with its interval (a change in percent).")
class Interval:
    value: float | None = about("the estimate; null: undefined")
    lower: float | None = about("lower bound at the confidence asked")
    upper: float | None = about("upper bound; null: unbounded")


@strawberry.type(description="One figure of a statistic: a share, a change or a rate.")
class StatisticCell:
    key: list[CellKey] = about("its codes: every grouped dimension the statistic keeps")
    value: float | None = about("share (4 decimals), change in cases, or cases per month")
    lower: float | None = about("lower bound at the confidence asked")
    upper: float | None = about("upper bound at the confidence asked")
    percent: Interval | None = about("a change, in percent (1 decimal)")
    suppressed: bool = about("hidden: a count it uses is suppressed")
    reason: str | None = about("count_suppressed, total_suppressed or not_computable")


@strawberry.type(description="A statistic computed from a release's counts, free.")
class Statistic:
    kind: StatisticKind = about("share, change or rate")
    of: str | None = about("a share's dimension")
    from_: str | None = about("a change's earlier period", name="from")
    to: str | None = about("a change's later period")
    per: str | None = about('a rate\'s unit: "month"')
    months: int | None = about("the months a rate is over")
    confidence: float = about("the intervals' confidence")
    cells: list[StatisticCell] = about("one per figure")


@strawberry.type(description="A released count table and what it cost.")
class CountRelease:
    release_id: str = about("the release's id (read it again with `releases`)")
    cached: bool = about("answered from a stored release: nothing spent")
    epsilon_charged: float = about(f"what this request spent ({EPSILON})")
    budget_remaining: float | None = about(f"your budget left on the dataset ({EPSILON})")
    dataset: str = about("the dataset's slug")
    dataset_version: int = about("the dataset version counted")
    noise_scale: float = about("the discrete Laplace noise's scale")
    margin_of_error: int = about("half-width of each cell's interval")
    confidence: float = about("the intervals' confidence")
    threshold: int = about("cells with a noisy count below this are suppressed")
    sensitive_threshold: int = about("the same for cells touching a sensitive value")
    mechanism: str = about("the noise mechanism")
    interpretation: str = about("what the numbers mean, in words")
    cells: list[Cell] = about("one per combination of codes, zeros included")
    statistic: Statistic | None = about("the statistic asked for, if any", default=None)
    derived_from: str | None = about(
        "the summary this answer was derived from, at no charge", default=None
    )


@strawberry.type(description="A coarser table a summary covers, with its prediction.")
class Proposal:
    group_by: list[str] = about("its grouped dimensions")
    cells: int = about("its cells")
    suppressed: int = about("cells predicted suppressed")


@strawberry.type(description="What a count query would cost; spends nothing.")
class Estimate:
    epsilon: float = about(f"the privacy loss it would spend ({EPSILON})")
    margin_of_error: int = about("half-width of each cell's interval, at the confidence asked")
    cells: int = about("how many cells it would release")
    cached: bool = about("already released: asking costs nothing")
    covered: bool = about("answered from the version's summary, free", default=False)
    derived_from: str | None = about("the summary that would answer it", default=None)
    derived_margin_of_error: int | None = about(
        "the largest half-width of the summary's intervals, at the confidence asked", default=None
    )
    predicted_suppressed: int | None = about(
        "cells the summary's estimates predict suppressed; null: cannot predict", default=None
    )
    coarser: list[Proposal] | None = about(
        "when most cells would be blank: coarser tables the summary covers", default=None
    )
    prediction: str = about("what the prediction rests on", default="")


@strawberry.type(description="A version of a dataset and the period its loads declared.")
class DatasetVersionInfo:
    number: int = about("the version's number")
    first_month: str = about("declared coverage, YYYY-MM, inclusive")
    last_month: str = about("declared coverage, YYYY-MM, inclusive")


@strawberry.type(description="A dataset granted to you, with its privacy settings.")
class DatasetInfo:
    slug: str = about("the dataset's slug, to name it in queries")
    title: str = about("its title")
    versions: list[DatasetVersionInfo] = about("its versions, oldest first")
    max_cases_per_person: int = about("most cases one person contributes")
    max_vulnerable_groups: int = about("most vulnerable groups one case counts in")
    max_referrals: int = about("most referrals one case counts in")
    max_epsilon_per_query: float = about(f"most one query may spend ({EPSILON})")
    budget_remaining: float | None = about("your budget left; null: no query budget")


@strawberry.type(description="A code of a dimension, with its labels.")
class CodeInfo:
    code: str = about("the code, as queries name it")
    label: str = about("English label")
    label_ur: str = about("Urdu label")
    sensitive: bool = about("a sensitive value: cells touching it have a higher threshold")


@strawberry.type(description="A dimension a query may group or filter by, with its codes.")
class DimensionInfo:
    name: Dimension = about("the dimension")
    multi_valued: bool = about("a case may take several of its values")
    codes: list[CodeInfo] = about("its codes (time codes: the version's declared coverage)")
    time: bool = about("a time dimension (month, quarter or year)")
    rollup_of: Dimension | None = about("the dimension this one is derived from")


@strawberry.type(description="Your budget on one dataset.")
class Budget:
    dataset: str = about("the dataset's slug")
    limit: float = about(f"what you may spend ({EPSILON})")
    spent: float = about(f"what you have spent ({EPSILON})")
    remaining: float = about(f"what is left ({EPSILON})")


@strawberry.type(description="Your account.")
class Me:
    id: int = about("the account's id")
    name: str = about("its name")
    organisation: str = about("its organisation")
    role: str = about("researcher, partner or admin")
    budgets: list[Budget] = about("your budgets, per dataset")


@strawberry.type(description="A stored release you may read: yours, or published to you.")
class ReleaseSummary:
    release_id: str = about("the release's id")
    dataset: str = about("the dataset's slug")
    dataset_version: int = about("the dataset version counted")
    epsilon: float = about(f"the privacy loss it spent ({EPSILON})")
    # The same moment as released_at, as ISO 8601 text (kept for old clients).
    created_at: str = about("when it was released (ISO 8601 text; see releasedAt)")
    kind: str = about('"publication" or "query"')
    title: str | None = about("a publication's title")
    description: str | None = about("a publication's description")
    group_by: list[Dimension] = about("the dimensions it groups by")
    rounding: int | None = about("the base counts are rounded to, if any")
    margins: bool = about("it has margin rows")
    failed: bool = about("charged, but failed after its data was read: no cells")
    released_at: datetime = about("when it was released")


@strawberry.type(description="A page of datasets, by slug.")
class DatasetPage:
    items: list[DatasetInfo] = about("the datasets of this page")
    next: str | None = about("pass as `cursor` for the next page; null: the last page")


@strawberry.type(description="A page of releases, newest first.")
class ReleasePage:
    items: list[ReleaseSummary] = about("the releases of this page")
    next: str | None = about("pass as `cursor` for the next page; null: the last page")


LimitArgument = Annotated[
    int | None, strawberry.argument(description="rows a page, 1 to 500 (default 100)")
]
CursorArgument = Annotated[
    str | None, strawberry.argument(description="the `next` of the previous page")
]
