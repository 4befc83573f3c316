"""Request and response bodies of the staff's REST API (``/v1/admin``).

Responses are validated from the staff services' dataclasses (``from_attributes``): ε
becomes a JSON number (held in micro-ε: its first 6 decimals are exact), as everywhere in the
REST API, and times ISO 8601.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from api.schemas import QueryIn
from privacy import Epsilon


def _number(value: Any) -> Any:
    return value.as_float() if isinstance(value, Epsilon) else value


def _utc(moment: datetime) -> datetime:
    # Times are stored in UTC; SQLite hands them back without their offset.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


EpsilonIn = Annotated[str | float, Field(description="ε as a decimal, e.g. 1.0")]
EpsilonOut = Annotated[float, BeforeValidator(_number), Field(description="ε, exact to 6 decimals")]
Moment = Annotated[datetime, AfterValidator(_utc), Field(description="UTC, ISO 8601")]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class AccountIn(Body):
    name: str = Field(min_length=1, max_length=200)
    role: Literal["researcher", "partner", "admin"]
    organisation: str = Field(default="", max_length=200)
    datasets: list[str] = Field(default_factory=list, max_length=50)
    budget: EpsilonIn | None = None
    expires_at: datetime | None = None


class AccountPatch(Body):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    organisation: str | None = Field(default=None, max_length=200)
    active: bool | None = None


class KeyIn(Body):
    label: str = Field(default="", max_length=200)
    expires_at: datetime | None = None


class AccountBudgetIn(Body):
    dataset: str
    epsilon: EpsilonIn
    reason: str = Field(min_length=1, max_length=1000)


class DatasetBudgetIn(Body):
    cap: EpsilonIn
    max_per_query: EpsilonIn
    reason: str = Field(min_length=1, max_length=1000)


class PublishIn(Body):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    query: QueryIn
    audience: list[str | int] = Field(min_length=1, max_length=1000)
    rounding: int = Field(default=5, ge=1, le=1000)
    margins: bool = False


class SummaryIn(Body):
    dataset: str = Field(min_length=1, max_length=64)
    template: str = Field(default="default", min_length=1, max_length=40)
    epsilon: EpsilonIn
    year: int | None = Field(default=None, ge=1900, le=2999, description="summarise to its end")


class SummaryTableOut(Out):
    name: str
    dimensions: list[str]
    time: str
    epsilon: EpsilonOut
    noise_scale: float


class SummaryOut(Out):
    release_id: str
    dataset: str
    dataset_version: int
    template: str
    year: int | None
    first_month: str
    last_month: str
    epsilon: EpsilonOut = Field(description="the sum of the tables' privacy maps")
    epsilon_charged: EpsilonOut = Field(description="what publishing this summary charged")
    tables: list[SummaryTableOut]
    measured_slices: int
    copied_slices: int = Field(description="slices copied from the summary it extends")
    extends: str | None
    failed: bool
    created_at: Moment


class IssuedKeyOut(Out):
    account_id: int
    key_id: int
    key: str = Field(description="shown once; only its hash is kept")


class RevokedKeyOut(Out):
    key_id: int
    account_id: int
    revoked_at: Moment | None


class AccountOut(Out):
    account_id: int
    name: str
    organisation: str
    role: str
    active: bool
    created_at: Moment


class ApiKeyOut(Out):
    key_id: int
    label: str
    created_at: Moment
    expires_at: Moment | None
    revoked_at: Moment | None
    last_used_at: Moment | None


class AccountBudgetOut(Out):
    account_id: int
    name: str
    organisation: str
    role: str
    active: bool
    dataset: str
    limit: EpsilonOut
    spent: EpsilonOut
    remaining: EpsilonOut
    share_used: float
    releases: int = Field(description="queries charged to this budget")
    cache_hits: int
    flagged: bool = Field(description="at or above flag_share of the limit")


class AccountViewOut(AccountOut):
    datasets: list[str]
    keys: list[ApiKeyOut] = Field(description="the account's keys; never the keys themselves")
    budgets: list[AccountBudgetOut]


class DatasetBudgetOut(Out):
    dataset: str
    title: str
    cap: EpsilonOut
    spent: EpsilonOut
    remaining: EpsilonOut
    share_used: float
    max_per_query: EpsilonOut


class OverviewOut(Out):
    flag_share: float
    datasets: list[DatasetBudgetOut]
    accounts: list[AccountBudgetOut] = Field(description="those flagged first")


class LimitChangeOut(Out):
    account_id: int
    dataset: str
    old: EpsilonOut | None = Field(description="none: the account had no budget on it")
    new: EpsilonOut


class DatasetLimitsOut(Out):
    cap: EpsilonOut
    max_per_query: EpsilonOut


class DatasetChangeOut(Out):
    dataset: str
    old: DatasetLimitsOut
    new: DatasetLimitsOut


class PublicationOut(Out):
    publication_id: int
    release_id: str
    title: str
    description: str
    dataset: str
    dataset_version: int
    epsilon: EpsilonOut
    epsilon_charged: EpsilonOut
    audience: list[str | int]
    rounding: int
    margins: bool
    replaces: int | None
    downloads: int
    published_at: Moment


class ChargeOut(Out):
    id: int
    at: Moment
    account_id: int
    dataset: str
    release_id: str
    kind: str
    epsilon: EpsilonOut


class AuditRecordOut(Out):
    id: int
    at: Moment
    account_id: int | None
    action: str
    outcome: str
    dataset: str | None
    version_id: int | None
    canonical_key: str | None
    epsilon: EpsilonOut | None
    detail: str = Field(description="JSON")
    hash: str | None = Field(description="none until the entry is sealed")


NEXT = "the cursor of the next page; null: the last page"


class AccountPage(Out):
    items: list[AccountOut]
    next: str | None = Field(description=NEXT)


class PublicationPage(Out):
    items: list[PublicationOut]
    next: str | None = Field(description=NEXT)


class ChargePage(Out):
    items: list[ChargeOut]
    next: str | None = Field(description=NEXT)


class AuditPage(Out):
    items: list[AuditRecordOut]
    next: str | None = Field(description=NEXT)


class VerificationOut(Out):
    ok: bool
    entries: int
    pending: int = Field(description="committed entries not sealed yet")
    problem: str | None
    entry_id: int | None
    account_id: int | None
    dataset: str | None


class SummaryPage(Out):
    items: list[SummaryOut]
    next: str | None = Field(description="the cursor of the next page; null: the last page")


class ReportIn(Body):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    audience: list[str | int] = Field(min_length=1, max_length=1000)


class ReportOut(Out):
    publication_id: int
    release_id: str
    title: str
    description: str
    dataset: str
    dataset_version: int
    year: int
    epsilon: EpsilonOut = Field(description="what its summary charged when it was published")
    published_at: Moment


class ReportPage(Out):
    items: list[ReportOut]
    next: str | None = Field(description="the cursor of the next page; null: the last page")
