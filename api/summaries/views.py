"""How a published summary reads to staff (REST, CLI, the staff page): its design, coverage
and charge. Nothing in it comes from the data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from api import pages
from api.releases import dataset_for
from api.summaries.measured import Published
from privacy import Epsilon
from schema.access import Account, Release
from schema.repositories import summaries as summaries_repo


@dataclass
class TableView:
    name: str
    dimensions: list[str]
    time: str
    epsilon: Epsilon
    noise_scale: float


@dataclass
class SummaryView:
    release_id: str
    dataset: str
    dataset_version: int
    template: str
    year: int | None
    first_month: str
    last_month: str
    epsilon: Epsilon  # the sum of the tables' privacy maps
    epsilon_charged: Epsilon  # what this request charged (0 when it was already published)
    tables: list[TableView]
    measured_slices: int
    copied_slices: int
    extends: str | None
    failed: bool
    created_at: datetime


def view(release: Release, charged: Epsilon | None = None) -> SummaryView:
    d = json.loads(release.body) if release.body else {}
    tables = [
        TableView(
            t["name"], t["dimensions"], t["time"], Epsilon.parse(t["epsilon"]), t["noise_scale"]
        )
        for t in d.get("tables", [])
    ]
    query = json.loads(release.query)
    return SummaryView(
        release_id=release.public_id,
        dataset=query["dataset"],
        dataset_version=query["version"],
        template=query["summary"],
        year=query["year"],
        first_month=d.get("first_month", ""),
        last_month=d.get("last_month", ""),
        epsilon=Epsilon(query["epsilon_micro"]),
        epsilon_charged=Epsilon(release.epsilon_micro) if charged is None else charged,
        tables=tables,
        measured_slices=d.get("measured_slices", 0),
        copied_slices=d.get("copied_slices", 0),
        extends=d.get("extends"),
        failed=release.failed,
        created_at=release.created_at,
    )


def published(p: Published) -> SummaryView:
    return view(p.release, p.epsilon_charged)


def listed(
    session: Session, staff: Account, dataset: str, page: pages.Page | None = None
) -> tuple[list[SummaryView], str | None]:
    """The summaries of a dataset, newest first (the charge shown is the one each made): a
    page and the ``next`` cursor (every one, and None, without a page)."""
    found, _ = dataset_for(session, staff, dataset, None)
    if page is None:
        return [view(release) for _, release in summaries_repo.listed(session, found.id)], None
    before = None if page.after is None else page.after.id
    rows = summaries_repo.listed(session, found.id, page.limit + 1, before)
    positions = [pages.Position("summary", row.id) for row, _ in rows]
    following = pages.next_cursor(positions, page)
    return [view(release) for _, release in rows[: page.limit]], following
