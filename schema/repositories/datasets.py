"""Datasets and their versions."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schema.models import Dataset, DatasetVersion, LoadBatch


def get_dataset(session: Session, slug: str) -> Dataset | None:
    return session.scalars(select(Dataset).where(Dataset.slug == slug)).one_or_none()


def get_or_create_dataset(
    session: Session,
    slug: str,
    *,
    max_cases_per_person: int,
    max_vulnerable_groups: int,
    max_referrals: int,
    cap_micro: int = 10_000_000,
    max_per_query_micro: int = 500_000,
    blank_is_consent: bool = False,
) -> Dataset:
    dataset = get_dataset(session, slug)
    if dataset is None:
        dataset = Dataset(
            slug=slug,
            title=slug.replace("-", " ").capitalize(),
            max_cases_per_person=max_cases_per_person,
            max_vulnerable_groups=max_vulnerable_groups,
            max_referrals=max_referrals,
            cap_micro=cap_micro,
            spent_micro=0,
            max_per_query_micro=max_per_query_micro,
            blank_is_consent=blank_is_consent,
        )
        session.add(dataset)
        session.flush()
    return dataset


def latest_version(session: Session, dataset_id: int) -> DatasetVersion | None:
    return session.scalars(
        select(DatasetVersion)
        .where(DatasetVersion.dataset_id == dataset_id)
        .order_by(DatasetVersion.number.desc())
        .limit(1)
    ).one_or_none()


def get_version(session: Session, dataset_id: int, number: int) -> DatasetVersion | None:
    return session.scalars(
        select(DatasetVersion).where(
            DatasetVersion.dataset_id == dataset_id, DatasetVersion.number == number
        )
    ).one_or_none()


def version_by_id(session: Session, version_id: int) -> DatasetVersion:
    found = session.get(DatasetVersion, version_id)
    if found is None:
        raise LookupError(f"no dataset version {version_id}")
    return found


def batch_for_file(session: Session, dataset_id: int, sha256: str) -> LoadBatch | None:
    return session.scalars(
        select(LoadBatch).where(LoadBatch.dataset_id == dataset_id, LoadBatch.file_sha256 == sha256)
    ).one_or_none()


def older_pipeline_batches(session: Session, dataset_id: int, pipeline_version: int) -> int:
    """How many of the dataset's batches were keyed by other rules than ``pipeline_version``."""
    return (
        session.scalar(
            select(func.count())
            .select_from(LoadBatch)
            .where(
                LoadBatch.dataset_id == dataset_id, LoadBatch.pipeline_version != pipeline_version
            )
        )
        or 0
    )


def by_id(session: Session, dataset_id: int) -> Dataset:
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise LookupError(f"no dataset {dataset_id}")
    return dataset
