"""Publications: named extracts staff published to partners, and their audiences.

A publication is written once and never changed; re-publishing adds a new one that names the
one it replaces. Downloads are counted from the audit log, where each one is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, defer

from schema.access import AuditEntry, Grant, Publication, PublicationAudience, Release
from schema.models import Dataset


def add(
    session: Session,
    *,
    release: Release,
    title: str,
    description: str,
    audience: Sequence[int] | None,
    rounding: int,
    margins: bool,
    published_by: int,
    replaces: Publication | None,
    group_by: str | None = None,
) -> Publication:
    """A publication of ``release`` to the partner accounts ``audience`` (None: all);
    ``group_by`` is the JSON list of its dimensions in the order asked."""
    publication = Publication(
        release_id=release.id,
        title=title,
        description=description,
        all_partners=audience is None,
        rounding=rounding,
        margins=margins,
        published_by=published_by,
        replaces_id=replaces.id if replaces else None,
        group_by=group_by,
    )
    session.add(publication)
    session.flush()
    session.add_all(
        PublicationAudience(publication_id=publication.id, account_id=i) for i in audience or ()
    )
    return publication


def get(session: Session, publication_id: int) -> Publication | None:
    return session.get(Publication, publication_id)


def released(session: Session, publication: Publication) -> tuple[Release, Dataset]:
    """The release a publication holds, and its dataset."""
    release = session.get(Release, publication.release_id)
    dataset = session.get(Dataset, release.dataset_id) if release else None
    assert release is not None and dataset is not None  # foreign keys
    return release, dataset


def audience_of(session: Session, publication: Publication) -> list[int]:
    """The partner accounts a publication names, by id (empty for all partners)."""
    return list(
        session.scalars(
            select(PublicationAudience.account_id)
            .where(PublicationAudience.publication_id == publication.id)
            .order_by(PublicationAudience.account_id)
        )
    )


def newest(session: Session, limit: int, before: int | None = None) -> Sequence[Publication]:
    """The newest publications; a page by keyset: those older than the id ``before``."""
    query = (
        select(Publication)
        .join(Release, Release.id == Publication.release_id)
        .where(Release.kind != "summary")  # reports are listed by ``reports``
        .order_by(Publication.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(Publication.id < before)
    return session.scalars(query).all()


def downloads(session: Session, release: Release) -> int:
    """How often a release was downloaded (each download is in the audit log)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.canonical_key == release.canonical_key, AuditEntry.action == "download"
            )
        )
        or 0
    )


def _published_to(account_id: int) -> Any:
    return or_(
        Publication.all_partners.is_(True),
        Publication.id.in_(
            select(PublicationAudience.publication_id).where(
                PublicationAudience.account_id == account_id
            )
        ),
    )


def granted(session: Session, account_id: int, dataset_id: int) -> bool:
    return session.get(Grant, (account_id, dataset_id)) is not None


def published_to(session: Session, account_id: int, release: Release) -> bool:
    """Whether some publication of the release is for this partner (or all partners)."""
    found = session.scalar(
        select(func.count())
        .select_from(Publication)
        .where(Publication.release_id == release.id, _published_to(account_id))
    )
    return bool(found)


def newest_of(session: Session, release: Release, partner_id: int | None) -> Publication | None:
    """The newest publication of a release (for ``partner_id``, the newest published to it)."""
    query = select(Publication).where(Publication.release_id == release.id)
    if partner_id is not None:
        query = query.where(_published_to(partner_id))
    return session.scalars(query.order_by(Publication.id.desc()).limit(1)).one_or_none()


def listed(
    session: Session, account_id: int, role: str, after: tuple[str, int] | None, limit: int
) -> list[tuple[Release, Publication | None]]:
    """A page of at most ``limit`` releases: extracts published to the account (every one, for
    staff; none for researchers), newest first, then its own query releases, newest first;
    bodies not loaded. ``after`` is where the previous page ended: ("publication", its id) or
    ("query", the release's id); keyset pagination, one statement a part."""
    items: list[tuple[Release, Publication | None]] = []
    part, last = after or ("publication", None)
    if role != "researcher" and part == "publication":
        query = (
            select(Release, Publication)
            .options(defer(Release.body), defer(Release.noisy))
            .join(Publication, Publication.release_id == Release.id)
            .where(Release.kind != "summary")  # reports are listed by ``reports``
        )
        if role == "partner":
            query = query.where(_published_to(account_id))
        if last is not None:
            query = query.where(Publication.id < last)
        found = session.execute(query.order_by(Publication.id.desc()).limit(limit))
        items += [(r, p) for r, p in found]
    if len(items) < limit:
        own = (
            select(Release)
            .options(defer(Release.body), defer(Release.noisy))
            .where(Release.account_id == account_id, Release.kind == "query")
        )
        if part == "query" and last is not None:
            own = own.where(Release.id < last)
        found_own = session.scalars(own.order_by(Release.id.desc()).limit(limit - len(items)))
        items += [(r, None) for r in found_own]
    return items


def reports(
    session: Session, account_id: int, role: str, before: int | None, limit: int
) -> list[tuple[Publication, Release]]:
    """The newest publications of annual reports (summaries) the account may see: those
    published to a partner, every one for staff and researchers; a page by keyset (ids
    below ``before``)."""
    query = (
        select(Publication, Release)
        .options(defer(Release.body), defer(Release.noisy))
        .join(Release, Release.id == Publication.release_id)
        .where(Release.kind == "summary")
    )
    if role == "partner":
        query = query.where(_published_to(account_id))
    elif role == "researcher":
        query = query.where(
            Release.dataset_id.in_(select(Grant.dataset_id).where(Grant.account_id == account_id))
        )
    if before is not None:
        query = query.where(Publication.id < before)
    found = session.execute(query.order_by(Publication.id.desc()).limit(limit))
    return [(p, r) for p, r in found]


def first(session: Session) -> Publication | None:
    return session.scalars(select(Publication).order_by(Publication.id).limit(1)).first()
