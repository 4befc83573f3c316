"""Published summaries: stored with their release, found by dataset version or series."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from schema import generation
from schema.access import Release, StoredSummary

MAX_PER_VERSION = 8  # summaries of one version a query may be answered from, newest first


def add(session: Session, summary: StoredSummary) -> StoredSummary:
    session.add(summary)
    session.flush()
    return summary


def of_version(session: Session, version_id: int) -> list[tuple[StoredSummary, str]]:
    """The summaries that answer for a dataset version, newest first: its published (not
    failed) summaries, each with its release's public id. Kept per worker (a summary added
    changes the cache generation: ``schema.generation``)."""
    found: list[tuple[StoredSummary, str]] | None = generation.get(
        session, ("summaries", version_id)
    )
    if found is not None:
        return found
    rows = session.execute(
        select(StoredSummary, Release.public_id)
        .join(Release, Release.id == StoredSummary.release_id)
        .where(StoredSummary.version_id == version_id, Release.failed.is_(False))
        .order_by(StoredSummary.id.desc())
        .limit(MAX_PER_VERSION)
    ).all()
    listed = [(r[0], r[1]) for r in rows]
    generation.put(session, ("summaries", version_id), listed)
    return listed


def of_release(session: Session, release_id: int) -> StoredSummary | None:
    return session.scalars(
        select(StoredSummary).where(StoredSummary.release_id == release_id)
    ).one_or_none()


def latest_of_series(
    session: Session, dataset_id: int, template: str
) -> tuple[StoredSummary, str] | None:
    """The newest summary of a dataset from ``template`` (which a new version extends), and
    its release's public id."""
    row = session.execute(
        select(StoredSummary, Release.public_id)
        .join(Release, Release.id == StoredSummary.release_id)
        .where(
            StoredSummary.dataset_id == dataset_id,
            StoredSummary.template == template,
            Release.failed.is_(False),
        )
        .order_by(StoredSummary.id.desc())
        .limit(1)
    ).one_or_none()
    return None if row is None else (row[0], row[1])


def listed(
    session: Session, dataset_id: int, limit: int | None = None, before: int | None = None
) -> list[tuple[StoredSummary, Release]]:
    """The summaries of a dataset, newest first, with their releases: at most ``limit``
    (None: all), those with ids below ``before`` (keyset pagination)."""
    query = (
        select(StoredSummary, Release)
        .join(Release, Release.id == StoredSummary.release_id)
        .where(StoredSummary.dataset_id == dataset_id)
        .order_by(StoredSummary.id.desc())
    )
    if before is not None:
        query = query.where(StoredSummary.id < before)
    if limit is not None:
        query = query.limit(limit)
    return [(r[0], r[1]) for r in session.execute(query).all()]
