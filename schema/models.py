"""The warehouse's tables.

The warehouse holds no direct identifier and no per-case row: the fact table ``case_counts``
holds one row per combination of generalised dimension values present in a dataset version,
with a count. ``person_contributions`` and ``loaded_case_refs`` hold keyed pseudonyms and
are read only by the ETL.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from schema.vocabulary import NAMES

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Dataset(Base):
    __tablename__ = "datasets"
    __table_args__ = (
        CheckConstraint("max_cases_per_person >= 1", name="max_cases_positive"),
        CheckConstraint("max_vulnerable_groups >= 1", name="max_vulnerable_positive"),
        CheckConstraint("max_referrals >= 1", name="max_referrals_positive"),
        CheckConstraint("spent_micro >= 0 AND spent_micro <= cap_micro", name="within_cap"),
        CheckConstraint("max_per_query_micro > 0", name="max_per_query_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    max_cases_per_person: Mapped[int] = mapped_column(Integer, default=2)
    max_vulnerable_groups: Mapped[int] = mapped_column(Integer, default=2)
    max_referrals: Mapped[int] = mapped_column(Integer, default=3)
    # The global privacy budget across all accounts, and the most one query may spend.
    cap_micro: Mapped[int] = mapped_column(BigInteger, default=10_000_000)
    spent_micro: Mapped[int] = mapped_column(BigInteger, default=0)
    max_per_query_micro: Mapped[int] = mapped_column(BigInteger, default=500_000)
    # Whether a blank consent_to_share counts as the survivor's consent (GBVIMS: it does not).
    blank_is_consent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def max_values(self, dimension: str) -> int:
        """The most values one case may keep in a multi-valued dimension."""
        return {"vulnerable_group": self.max_vulnerable_groups, "referral": self.max_referrals}[
            dimension
        ]


class DatasetVersion(Base):
    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "number", name="uq_dataset_versions_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    codelist_version: Mapped[str] = mapped_column(String(32))
    # The declared coverage: the union of the periods its batches declared (``--covers``),
    # never the months that happen to hold cases, so that it is public metadata.
    first_month: Mapped[str] = mapped_column(String(7))
    last_month: Mapped[str] = mapped_column(String(7))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LoadBatch(Base):
    __tablename__ = "load_batches"
    __table_args__ = (UniqueConstraint("dataset_id", "file_sha256", name="uq_load_batches_file"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id"))
    file_sha256: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(255))
    rows_read: Mapped[int] = mapped_column(Integer)
    rows_rejected: Mapped[int] = mapped_column(Integer)
    cases_cut_by_person_bound: Mapped[int] = mapped_column(Integer)
    values_cut_by_multi_value_bound: Mapped[int] = mapped_column(Integer)
    cases_loaded: Mapped[int] = mapped_column(Integer)
    consent_refused: Mapped[int] = mapped_column(Integer, default=0)
    duplicates_skipped: Mapped[int] = mapped_column(Integer, default=0)
    # The period the batch declared it covers (YYYY-MM, inclusive).
    covers_first: Mapped[str] = mapped_column(String(7))
    covers_last: Mapped[str] = mapped_column(String(7))
    # How the batch keyed people and cases: 1 before contact keys were normalised to E.164
    # and case references recorded; 2 since. Pseudonyms of different rules never match.
    pipeline_version: Mapped[int] = mapped_column(Integer)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CaseCount(Base):
    """One row per combination of dimension values present in a dataset version.

    The values are packed into one 64-bit integer (``schema.facts``): code-list positions for
    single-valued dimensions, bit masks for multi-valued ones, so a case with several
    referrals is still one row and is counted once per value it holds.

    Written only by the loader, in the transaction that creates the version; it has no
    foreign key because per-row checks would dominate a bulk load.
    """

    __tablename__ = "case_counts"
    __table_args__ = (
        CheckConstraint("cases > 0", name="cases_positive"),
        {"sqlite_with_rowid": False},  # the key is the table: one B-tree, not two
    )

    version_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    combo: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    cases: Mapped[int] = mapped_column(Integer)


class PersonContribution(Base):
    """How many cases each pseudonymous person has contributed to a dataset.

    Read only by the ETL, to hold the contribution bound across load batches. No foreign
    key, for the same reason as ``CaseCount``.
    """

    __tablename__ = "person_contributions"
    __table_args__ = ({"sqlite_with_rowid": False},)

    dataset_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    pseudonym: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    cases: Mapped[int] = mapped_column(Integer)


class LoadedCaseRef(Base):
    """The keyed hash of every case reference loaded into a dataset, so that a re-export or a
    cumulative export adds only its new cases.

    Read only by the ETL. No foreign key, for the same reason as ``CaseCount``.
    """

    __tablename__ = "loaded_case_refs"
    __table_args__ = ({"sqlite_with_rowid": False},)

    dataset_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ref_hash: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


# Every dimension a query may group or filter by (the vocabulary's names, kept here for the
# modules that read them beside the models).
DIMENSIONS: tuple[str, ...] = NAMES
