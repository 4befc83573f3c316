"""Annual reports published to partners, as extracts are: staff publish an
``annual-report`` summary under a title to named partners (or all of them); partners list
the reports published to them and download them (``GET /v1/reports``). Publishing a report
spends nothing (its summary was charged when it was published) and is audited
("publish"); each download is audited as a release's is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from api import pages
from api.staff import publications
from api.summaries import extract
from privacy import Epsilon
from schema.access import Account, Publication, Release
from schema.repositories import publications as publications_repo


@dataclass(frozen=True)
class ReportView:
    publication_id: int
    release_id: str
    title: str
    description: str
    dataset: str
    dataset_version: int
    year: int
    epsilon: Epsilon
    published_at: datetime


def publish(
    session: Session,
    staff: Account,
    public_id: str,
    title: str,
    description: str,
    audience: list[str | int],
) -> ReportView:
    """Publish the annual report of a summary to partners; refused, naming the field, for a
    release that is not an annual-report summary, a bad title or audience."""
    ids = publications.titled(session, title, audience)
    found = extract.check(session, staff, public_id)
    publication = publications_repo.add(
        session,
        release=found,
        title=title.strip(),
        description=description.strip(),
        audience=ids,
        rounding=1,
        margins=False,
        published_by=staff.id,
        replaces=None,
    )
    publications.audited(session, staff, publication, found, 0, ids, report=extract.TEMPLATE)
    return _view(publication, found)


def _view(publication: Publication, release: Release) -> ReportView:
    form = extract.form_of(release)
    return ReportView(
        publication.id,
        release.public_id,
        publication.title,
        publication.description,
        form["dataset"],
        form["version"],
        form["year"],
        Epsilon(form["epsilon_micro"]),
        publication.created_at,
    )


def listed(
    session: Session, account: Account, page: pages.Page
) -> tuple[list[ReportView], str | None]:
    """A page of the reports published that the account may see, newest first."""
    before = None if page.after is None else page.after.id
    found = publications_repo.reports(session, account.id, account.role, before, page.limit + 1)
    positions = [pages.Position("report", p.id) for p, _ in found]
    return [_view(p, r) for p, r in found[: page.limit]], pages.next_cursor(positions, page)
