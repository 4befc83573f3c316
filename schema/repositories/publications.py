"""Publications: named extracts staff published to partners, and their audiences.

A publication is written once and never changed; re-publishing adds a new one that names the
one it replaces. Downloads are counted from the audit log, where each one is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schema.access import AuditEntry, Publication, PublicationAudience, Release
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
) -> Publication:
    """A publication of ``release`` to the partner accounts ``audience`` (None: all)."""
    publication = Publication(
        release_id=release.id,
        title=title,
        description=description,
        all_partners=audience is None,
        rounding=rounding,
        margins=margins,
        published_by=published_by,
        replaces_id=replaces.id if replaces else None,
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


def newest(session: Session, limit: int) -> Sequence[Publication]:
    return session.scalars(select(Publication).order_by(Publication.id.desc()).limit(limit)).all()


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
