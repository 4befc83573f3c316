"""The catalogue: what a caller may know before asking for numbers, for REST and GraphQL alike.

Datasets with their versions, declared coverage and privacy settings; the dimensions with
their codes (time codes for a dataset version's declared coverage); the caller and their
budgets; the releases visible to the caller. All of it is public metadata: declared, never
observed, so two warehouses that differ by one person give the same catalogue. ε is held as
``Epsilon`` (integer micro-ε); each interface writes it in its own type.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from api import pages, publications, releases
from api.errors import InvalidQuery, NotFound
from privacy import Epsilon
from schema.access import Account
from schema.codelists import codelists, time_codes
from schema.repositories import catalogue as repo
from schema.settings import Settings
from schema.vocabulary import MULTI_VALUED, VOCABULARY

MAX_VERSION = 2**31 - 1
MAX_SLUG = 64


@dataclass(frozen=True)
class Version:
    number: int
    first_month: str  # the declared coverage, YYYY-MM, inclusive
    last_month: str


@dataclass(frozen=True)
class DatasetInfo:
    slug: str
    title: str
    versions: list[Version]
    max_cases_per_person: int
    max_values_per_case: dict[str, int]  # per multi-valued dimension
    max_epsilon_per_query: Epsilon
    budget_remaining: Epsilon | None  # None: the caller has no query budget on it


@dataclass(frozen=True)
class Code:
    code: str
    label: str
    label_ur: str
    sensitive: bool


@dataclass(frozen=True)
class DimensionInfo:
    name: str
    time: bool
    rollup_of: str | None
    multi_valued: bool
    codes: list[Code]


@dataclass(frozen=True)
class Budget:
    dataset: str
    limit: Epsilon
    spent: Epsilon
    remaining: Epsilon


@dataclass(frozen=True)
class Me:
    id: int
    name: str
    organisation: str
    role: str
    budgets: list[Budget]


@dataclass(frozen=True)
class ReleaseItem:
    release_id: str
    kind: str  # "publication" (an extract published to the caller) or "query"
    title: str | None
    description: str | None
    dataset: str
    dataset_version: int
    group_by: list[str]
    epsilon: Epsilon
    rounding: int | None
    margins: bool
    failed: bool  # charged, but failed after its data was read: it has no cells
    released_at: datetime


DATASET_PARTS = ("dataset",)


def datasets(
    session: Session, account: Account, page: pages.Page
) -> tuple[list[DatasetInfo], str | None]:
    """A page of the datasets granted to the caller, by slug, and the ``next`` cursor."""
    after = None if page.after is None else page.after.id
    found = repo.granted_datasets(session, account.id, after, page.limit + 1)
    positions = [pages.Position("dataset", dataset.id) for dataset, _, _ in found]
    out = [
        DatasetInfo(
            slug=dataset.slug,
            title=dataset.title,
            versions=[Version(v.number, v.first_month, v.last_month) for v in versions],
            max_cases_per_person=dataset.max_cases_per_person,
            max_values_per_case={name: dataset.max_values(name) for name in MULTI_VALUED},
            max_epsilon_per_query=Epsilon(dataset.max_per_query_micro),
            budget_remaining=None
            if budget is None
            else Epsilon(budget.limit_micro - budget.spent_micro),
        )
        for dataset, budget, versions in found[: page.limit]
    ]
    return out, pages.next_cursor(positions, page)


def _version_of(
    session: Session, account: Account, dataset: str | None, version: int | None
) -> tuple[str, str]:
    """The declared coverage of the version whose time codes are listed: of ``dataset``
    (by default the caller's only dataset), version ``version`` (by default the newest)."""
    if version is not None and not 1 <= version <= MAX_VERSION:
        raise InvalidQuery("version: a whole number from 1", field="version")
    if dataset is not None and len(dataset) > MAX_SLUG:
        raise InvalidQuery(f"dataset: at most {MAX_SLUG} characters", field="dataset")
    if dataset is None:
        granted = repo.granted_slugs(session, account.id)
        if not granted:
            raise NotFound("no dataset is available to this account")
        if len(granted) > 1:
            raise InvalidQuery(
                "name the dataset whose time codes to list", field="dataset", valid=granted
            )
        dataset = granted[0]
    _, found = releases.dataset_for(session, account, dataset, version)
    return found.first_month, found.last_month


def dimensions(
    session: Session,
    account: Account,
    settings: Settings,
    dataset: str | None = None,
    version: int | None = None,
) -> list[DimensionInfo]:
    """Every dimension with its codes; a time dimension's codes are those of the chosen
    version's declared coverage, never the months that hold cases."""
    first, last = _version_of(session, account, dataset, version)
    lists = codelists()
    sensitive = settings.sensitive_values
    out = []
    for term in VOCABULARY:
        flagged = set(sensitive.get(term.name, []))
        if term.time:
            codes = [Code(c, c, c, c in flagged) for c in time_codes(term.name, first, last)]
        else:
            codes = [Code(c.code, c.en, c.ur, c.code in flagged) for c in lists[term.name].codes]
        out.append(DimensionInfo(term.name, term.time, term.rollup_of, term.multi_valued, codes))
    return out


def me(session: Session, account: Account) -> Me:
    """The caller and their query budgets."""
    return Me(
        id=account.id,
        name=account.name,
        organisation=account.organisation,
        role=account.role,
        budgets=[
            Budget(
                dataset=slug,
                limit=Epsilon(b.limit_micro),
                spent=Epsilon(b.spent_micro),
                remaining=Epsilon(b.limit_micro - b.spent_micro),
            )
            for slug, b in repo.budgets(session, account.id)
        ],
    )


RELEASE_PARTS = ("publication", "query")


def visible_releases(
    session: Session, account: Account, page: pages.Page
) -> tuple[list[ReleaseItem], str | None]:
    """A page of the extracts published to the caller (all of them for staff), then the
    releases of the caller's own queries; newest first; and the ``next`` cursor. Read from
    each release's canonical query, so no release body is loaded and a failed release (which
    has none) is listed too."""
    after = None if page.after is None else (page.after.part, page.after.id)
    found = publications.listed(session, account, after, page.limit + 1)
    positions = [
        pages.Position("publication", p.id) if p else pages.Position("query", r.id)
        for r, p in found
    ]
    out = []
    for release, publication in found[: page.limit]:
        form = json.loads(release.query)
        options = form.get("options", {})
        out.append(
            ReleaseItem(
                release_id=release.public_id,
                kind="publication" if publication else "query",
                title=publication.title if publication else None,
                description=publication.description if publication else None,
                dataset=form["dataset"],
                dataset_version=form["version"],
                group_by=list(form["group_by"]),
                epsilon=Epsilon(release.epsilon_micro),
                rounding=options.get("rounding"),
                margins=bool(options.get("margins")),
                failed=bool(release.failed),
                released_at=_utc(release.created_at),
            )
        )
    return out, pages.next_cursor(positions, page)


def _utc(moment: datetime) -> datetime:
    """SQLite hands back the stored UTC time without its zone; PostgreSQL with it."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
