"""Who may read which release: the reading side of published extracts, for the partners'
REST routes and the catalogue. Reading a release never spends.

What staff do with publications (the checks, the record, republishing) is
``api.staff.publications``.
"""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from api.errors import InvalidQuery, NotFound, ReleaseFailed
from schema.access import Account, Publication, Release
from schema.repositories import publications as publications_repo
from schema.repositories import releases as releases_repo

RELEASE_ID = re.compile(r"r_[0-9a-f]{24}", re.ASCII)  # as ``releases_repo.claim`` makes them


def readable(session: Session, account: Account, public_id: str, summary: bool = False) -> Release:
    """A release the account may read, or 404: the same answer as for one that does not exist.

    Staff read everything; researchers read releases of datasets granted to them; partners
    read what was published to them and the releases of their own ad-hoc queries. A release
    that failed answers as its query did: ``release_failed``. A summary holds no table: it is
    refused (naming ``release_id``) unless ``summary`` (its annual report is read so).
    """
    release = _readable(session, account, public_id)
    if release.kind == "summary" and not summary:  # it holds no table
        raise InvalidQuery(
            f"release {public_id} is a summary, not a table: its annual report (template "
            "annual-report) is at /v1/reports/{release_id}; queries it covers are answered "
            "from it for free",
            field="release_id",
        )
    if release.failed:
        raise ReleaseFailed("this release failed; it holds no table")
    return release


def _readable(session: Session, account: Account, public_id: str) -> Release:
    found = RELEASE_ID.fullmatch(public_id)  # never sent to the database otherwise
    release = releases_repo.by_public_id(session, public_id) if found else None
    if release is not None:
        if account.role == "admin":
            return release
        if account.role == "researcher":
            if publications_repo.granted(session, account.id, release.dataset_id):
                return release
        elif release.account_id == account.id or publications_repo.published_to(
            session, account.id, release
        ):
            return release
    raise NotFound(f"no release {public_id[:40]!r} is available to this account")


def publication_for(session: Session, account: Account, release: Release) -> Publication | None:
    """The newest publication of a release that this account may see (any, for staff)."""
    partner = account.id if account.role == "partner" else None
    return publications_repo.newest_of(session, release, partner)


def listed(
    session: Session, account: Account, after: tuple[str, int] | None, limit: int
) -> list[tuple[Release, Publication | None]]:
    """A page of the releases of ``GET /v1/releases``: extracts published to the caller (all
    of them for staff), then the caller's own query releases; newest first."""
    return publications_repo.listed(session, account.id, account.role, after, limit)


def downloads(session: Session, release: Release) -> int:
    return publications_repo.downloads(session, release)
