"""What operators watch, read at scrape time: privacy loss spent per dataset and the audit
log's entries not sealed yet. Neither depends on case data: ε is charged per query asked,
and audit entries are written per request."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schema.access import AuditEntry
from schema.models import Dataset


@dataclass(frozen=True)
class DatasetSpend:
    slug: str
    spent_micro: int
    cap_micro: int


def dataset_spend(session: Session) -> list[DatasetSpend]:
    rows = session.execute(
        select(Dataset.slug, Dataset.spent_micro, Dataset.cap_micro).order_by(Dataset.slug)
    )
    return [DatasetSpend(slug, spent, cap) for slug, spent, cap in rows]


def unsealed_entries(session: Session) -> int:
    count: int = (
        session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.seq.is_(None)))
        or 0
    )
    return count
