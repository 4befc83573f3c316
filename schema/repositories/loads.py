"""Writing a load batch: person contributions, and the facts of the new dataset version.

The loader bounds contributions itself (``etl.bound``) and hands over only aggregates: kept
cases per packed value, and per-person counts. The per-batch facts wait in a temporary table
of the loading connection and are merged with the previous version's in one GROUP BY.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    MetaData,
    Table,
    bindparam,
    func,
    insert,
    literal,
    literal_column,
    select,
    union_all,
    update,
)

from schema.facts import MONTH_BITS, month_code
from schema.models import CaseCount, PersonContribution

_temp = MetaData()
batch_facts = Table(
    "amaan_batch_facts",
    _temp,
    Column("combo", BigInteger, nullable=False),
    Column("cases", Integer, nullable=False),
    prefixes=["TEMPORARY"],
)


def create_staging(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        # Room to sort and hash a large batch in memory, for this transaction only.
        conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")
    batch_facts.drop(conn, checkfirst=True)
    batch_facts.create(conn)


def drop_staging(conn: Connection) -> None:
    batch_facts.drop(conn, checkfirst=True)


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


def add_batch_facts(conn: Connection, combos: np.ndarray, cases: np.ndarray) -> None:
    rows = zip(combos.tolist(), cases.tolist(), strict=True)
    _bulk_insert(conn, batch_facts.name, ["combo", "cases"], rows)


def prior_contributions(
    conn: Connection, dataset_id: int, lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray]:
    """Earlier cases per person for pseudonyms in ``lo..hi``, sorted by pseudonym."""
    rows = conn.execute(
        select(PersonContribution.pseudonym, PersonContribution.cases)
        .where(
            PersonContribution.dataset_id == dataset_id,
            PersonContribution.pseudonym >= lo,
            PersonContribution.pseudonym <= hi,
        )
        .order_by(PersonContribution.pseudonym)
    ).all()
    pids = np.array([r[0] for r in rows], dtype=np.int64)
    cases = np.array([r[1] for r in rows], dtype=np.int64)
    return pids, cases


def add_people(conn: Connection, dataset_id: int, pids: np.ndarray, cases: np.ndarray) -> None:
    rows = zip([dataset_id] * len(pids), pids.tolist(), cases.tolist(), strict=True)
    _bulk_insert(conn, PersonContribution.__tablename__, ["dataset_id", "pseudonym", "cases"], rows)


def update_people(conn: Connection, dataset_id: int, pids: np.ndarray, cases: np.ndarray) -> None:
    if not len(pids):
        return
    stmt = (
        update(PersonContribution)
        .where(
            PersonContribution.dataset_id == dataset_id,
            PersonContribution.pseudonym == bindparam("pid"),
        )
        .values(cases=bindparam("total"))
    )
    conn.execute(
        stmt,
        [{"pid": p, "total": c} for p, c in zip(pids.tolist(), cases.tolist(), strict=True)],
    )


def write_version_facts(conn: Connection, version_id: int, previous_version_id: int | None) -> None:
    """The new version's facts: the previous version's plus this batch's, by packed value."""
    parts = [select(batch_facts.c.combo, batch_facts.c.cases)]
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


def month_range(conn: Connection, version_id: int) -> tuple[str, str] | None:
    month = CaseCount.combo.op("&")(literal_column(str((1 << MONTH_BITS) - 1), BigInteger))
    lo, hi = conn.execute(
        select(func.min(month), func.max(month)).where(CaseCount.version_id == version_id)
    ).one()
    if lo is None:
        return None
    return month_code(int(lo)), month_code(int(hi))
