"""Staging a batch of cases and folding it into a new dataset version.

Cases live only in temporary tables of the loading connection, as four integers (record
number, 64-bit pseudonym, day, packed dimension values: ``schema.facts``). They are bounded,
aggregated and dropped inside the load's transaction, so per-case rows never persist, and the
work happens in the database, so the loader's memory does not grow with the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    MetaData,
    Table,
    and_,
    func,
    insert,
    literal,
    literal_column,
    select,
    union_all,
    update,
)

from schema.facts import FIRST_YEAR, MONTH_BITS, month_code
from schema.models import CaseCount, PersonContribution

_temp = MetaData()
staging = Table(
    "amaan_staging_cases",
    _temp,
    Column("seq", Integer, primary_key=True),
    Column("pseudonym", BigInteger, nullable=False),
    Column("day", Integer, nullable=False),
    Column("combo", BigInteger, nullable=False),
    prefixes=["TEMPORARY"],
)
kept = Table(
    "amaan_kept_cases",
    _temp,
    Column("pseudonym", BigInteger, nullable=False),
    Column("combo", BigInteger, nullable=False),
    prefixes=["TEMPORARY"],
)
STAGING_COLUMNS = [c.name for c in staging.columns]


def create_staging(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        # Room to sort and hash a large batch in memory, for this transaction only.
        conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")
    for table in (staging, kept):
        table.drop(conn, checkfirst=True)
        table.create(conn)


def drop_staging(conn: Connection) -> None:
    for table in (kept, staging):
        table.drop(conn, checkfirst=True)


def _bulk_insert(conn: Connection, table: str, columns: Sequence[str], rows: Iterable[Any]) -> None:
    """Insert through the driver's fast path: COPY on PostgreSQL, executemany on SQLite."""
    raw: Any = conn.connection.driver_connection
    cols = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join("?" for _ in columns)
        cur = raw.cursor()
        cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)  # noqa: S608
        cur.close()


def stage_rows(conn: Connection, rows: Iterable[Sequence[int]]) -> None:
    """Stage cases given in ``STAGING_COLUMNS`` order."""
    _bulk_insert(conn, staging.name, STAGING_COLUMNS, rows)


def bound_contributions(conn: Connection, dataset_id: int, max_cases: int) -> None:
    """Keep each person's earliest cases, up to ``max_cases`` over every batch ever loaded."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"ANALYZE {staging.name}")  # temp tables have no statistics
    prior = func.coalesce(PersonContribution.cases, 0)
    rank = func.row_number().over(
        partition_by=staging.c.pseudonym, order_by=(staging.c.day, staging.c.seq)
    )
    ranked = (
        select(staging.c.pseudonym, staging.c.combo, (rank + prior).label("nth"))
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
    conn.execute(
        insert(kept).from_select(
            ["pseudonym", "combo"],
            select(ranked.c.pseudonym, ranked.c.combo).where(ranked.c.nth <= max_cases),
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
    """The new version's facts: the previous version's plus the kept cases, by packed key."""
    parts = [select(kept.c.combo, literal(1, Integer).label("cases"))]
    if previous_version_id is not None:
        parts.append(
            select(CaseCount.combo, CaseCount.cases).where(
                CaseCount.version_id == previous_version_id
            )
        )
    both = union_all(*parts).subquery()
    conn.execute(
        insert(CaseCount).from_select(
            ["version_id", "combo", "cases"],
            select(literal(version_id, Integer), both.c.combo, func.sum(both.c.cases))
            .group_by(both.c.combo)
            .order_by(both.c.combo),
        )
    )


def kept_by_year(conn: Connection) -> dict[str, int]:
    month = kept.c.combo.op("&")(literal_column(str((1 << MONTH_BITS) - 1), BigInteger))
    rows = conn.execute(select(month, func.count()).group_by(month)).all()
    out: dict[str, int] = {}
    for index, n in rows:
        year = str(FIRST_YEAR + int(index) // 12)
        out[year] = out.get(year, 0) + int(n)
    return dict(sorted(out.items()))


def staged_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(staging)).scalar_one())


def month_range(conn: Connection, version_id: int) -> tuple[str, str] | None:
    month = CaseCount.combo.op("&")(literal_column(str((1 << MONTH_BITS) - 1), BigInteger))
    lo, hi = conn.execute(
        select(func.min(month), func.max(month)).where(CaseCount.version_id == version_id)
    ).one()
    if lo is None:
        return None
    return month_code(int(lo)), month_code(int(hi))
