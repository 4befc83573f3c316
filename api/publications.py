"""Who may read which release: the reading side of published extracts, for the partners'
REST routes and the catalogue. Reading a release never spends.

What staff do with publications (the checks, the record, republishing) is
``api.staff.publications``.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, defer

from api.errors import NotFound, ReleaseFailed
from schema.access import Account, Grant, Publication, PublicationAudience, Release
from schema.repositories import publications as publications_repo
from schema.repositories import releases as releases_repo

RELEASE_ID = re.compile(r"r_[0-9a-f]{24}", re.ASCII)  # as ``releases_repo.claim`` makes them


def _published_to(account: Account) -> Any:
    return or_(
        Publication.all_partners.is_(True),
        Publication.id.in_(
            select(PublicationAudience.publication_id).where(
                PublicationAudience.account_id == account.id
            )
        ),
    )


def readable(session: Session, account: Account, public_id: str) -> Release:
    """A release the account may read, or 404: the same answer as for one that does not exist.

    Staff read everything; researchers read releases of datasets granted to them; partners
    read what was published to them and the releases of their own ad-hoc queries. A release
    that failed answers as its query did: ``release_failed``.
    """
    release = _readable(session, account, public_id)
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
            if session.get(Grant, (account.id, release.dataset_id)) is not None:
                return release
        elif release.account_id == account.id or session.scalar(
            select(func.count())
            .select_from(Publication)
            .where(Publication.release_id == release.id, _published_to(account))
        ):
            return release
    raise NotFound(f"no release {public_id[:40]!r} is available to this account")


def publication_for(session: Session, account: Account, release: Release) -> Publication | None:
    """The newest publication of a release that this account may see (any, for staff)."""
    query = select(Publication).where(Publication.release_id == release.id)
    if account.role == "partner":
        query = query.where(_published_to(account))
    return session.scalars(query.order_by(Publication.id.desc()).limit(1)).one_or_none()


def listed(session: Session, account: Account) -> list[tuple[Release, Publication | None]]:
    """Releases for ``GET /v1/releases``: extracts published to the caller (all of them for
    staff), and the caller's own query releases; newest first."""
    items: list[tuple[Release, Publication | None]] = []
    if account.role != "researcher":
        query = (
            select(Release, Publication)
            .options(defer(Release.body))
            .join(Publication, Publication.release_id == Release.id)
        )
        if account.role == "partner":
            query = query.where(_published_to(account))
        items += [(r, p) for r, p in session.execute(query.order_by(Publication.id.desc()))]
    own = session.scalars(
        select(Release)
        .options(defer(Release.body))
        .where(Release.account_id == account.id, Release.kind == "query")
        .order_by(Release.id.desc())
        .limit(1000)
    )
    items += [(r, None) for r in own]
    return items


def downloads(session: Session, release: Release) -> int:
    return publications_repo.downloads(session, release)
