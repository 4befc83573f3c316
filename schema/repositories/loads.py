"""Staging a batch of case rows and folding it into a new dataset version.

Case rows live only in a temporary table of the loading connection; they are bounded,
aggregated into ``case_counts`` and dropped inside the load's transaction, so per-case rows
never persist. The contribution bound is applied in SQL so that memory in the loader does not
grow with the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    func,
    insert,
    literal,
    select,
    union_all,
    update,
)

from schema.models import FACT_DIMENSIONS, CaseCount, PersonContribution

MASK_DIMENSIONS = ("vulnerable_group", "referral")
_temp = MetaData()


def _dimension_columns() -> list[Column[Any]]:
    return [
        Column(d, Integer if d in MASK_DIMENSIONS else String(20), nullable=False)
        for d in FACT_DIMENSIONS
    ]


staging = Table(
    "amaan_staging_cases",
    _temp,
    Column("seq", Integer, primary_key=True),
    Column("pseudonym", String(64), nullable=False),
    Column("received", String(10), nullable=False),
    *_dimension_columns(),
    prefixes=["TEMPORARY"],
)
kept = Table(
    "amaan_kept_cases",
    _temp,
    Column("pseudonym", String(64), nullable=False),
    *_dimension_columns(),
    prefixes=["TEMPORARY"],
)
STAGING_COLUMNS = [c.name for c in staging.columns]


def create_staging(conn: Connection) -> None:
    for table in (staging, kept):
        table.drop(conn, checkfirst=True)
        table.create(conn)


def drop_staging(conn: Connection) -> None:
    for table in (kept, staging):
        table.drop(conn, checkfirst=True)


def stage_rows(conn: Connection, rows: Iterable[Sequence[Any]]) -> None:
    """Bulk insert case rows (in ``STAGING_COLUMNS`` order) through the driver's fast path."""
    raw: Any = conn.connection.driver_connection
    cols = ", ".join(STAGING_COLUMNS)
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cur, cur.copy(f"COPY {staging.name} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join("?" for _ in STAGING_COLUMNS)
        cur = raw.cursor()
        cur.executemany(f"INSERT INTO {staging.name} ({cols}) VALUES ({marks})", rows)  # noqa: S608
        cur.close()


def bound_contributions(conn: Connection, dataset_id: int, max_cases: int) -> None:
    """Keep each person's earliest cases, up to ``max_cases`` over every batch ever loaded."""
    prior = func.coalesce(PersonContribution.cases, 0)
    rank = func.row_number().over(
        partition_by=staging.c.pseudonym, order_by=(staging.c.received, staging.c.seq)
    )
    ranked = (
        select(
            staging.c.pseudonym,
            *[staging.c[d] for d in FACT_DIMENSIONS],
            (rank + prior).label("nth"),
        )
        .select_from(
            staging.outerjoin(
                PersonContribution,
                and_(
                    PersonContribution.dataset_id == dataset_id,
                    PersonContribution.pseudonym == staging.c.pseudonym,
                ),
            )
        )
        .subquery()
    )
    names = ["pseudonym", *FACT_DIMENSIONS]
    conn.execute(
        insert(kept).from_select(
            names, select(*[ranked.c[n] for n in names]).where(ranked.c.nth <= max_cases)
        )
    )
    counts = (
        select(func.count())
        .where(kept.c.pseudonym == PersonContribution.pseudonym)
        .scalar_subquery()
    )
    conn.execute(
        update(PersonContribution)
        .where(
            PersonContribution.dataset_id == dataset_id,
            PersonContribution.pseudonym.in_(select(kept.c.pseudonym)),
        )
        .values(cases=PersonContribution.cases + counts)
    )
    known = select(PersonContribution.pseudonym).where(PersonContribution.dataset_id == dataset_id)
    conn.execute(
        insert(PersonContribution).from_select(
            ["dataset_id", "pseudonym", "cases"],
            select(literal(dataset_id, Integer), kept.c.pseudonym, func.count())
            .where(kept.c.pseudonym.not_in(known))
            .group_by(kept.c.pseudonym),
        )
    )


def write_version_facts(conn: Connection, version_id: int, previous_version_id: int | None) -> None:
    """The new version's facts: the previous version's plus the kept cases, re-aggregated."""
    parts = [select(*[kept.c[d] for d in FACT_DIMENSIONS], literal(1, Integer).label("cases"))]
    if previous_version_id is not None:
        parts.append(
            select(*[CaseCount.__table__.c[d] for d in FACT_DIMENSIONS], CaseCount.cases).where(
                CaseCount.version_id == previous_version_id
            )
        )
    both = union_all(*parts).subquery()
    dims = [both.c[d] for d in FACT_DIMENSIONS]
    conn.execute(
        insert(CaseCount).from_select(
            ["version_id", *FACT_DIMENSIONS, "cases"],
            select(literal(version_id, Integer), *dims, func.sum(both.c.cases)).group_by(*dims),
        )
    )


def staged_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(staging)).scalar_one())


def kept_by_year(conn: Connection) -> dict[str, int]:
    rows = conn.execute(
        select(kept.c.year, func.count()).group_by(kept.c.year).order_by(kept.c.year)
    )
    return {str(y): int(n) for y, n in rows}


def month_range(conn: Connection, version_id: int) -> tuple[str, str] | None:
    lo, hi = conn.execute(
        select(func.min(CaseCount.month), func.max(CaseCount.month)).where(
            CaseCount.version_id == version_id
        )
    ).one()
    return None if lo is None else (str(lo), str(hi))
