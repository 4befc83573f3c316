"""Writing a load batch: person contributions, case references, and the facts of the new
dataset version.

The loader bounds contributions and skips cases loaded before itself (``etl.bound``,
``etl.dedupe``) and hands over only aggregates and keyed hashes: kept cases per packed value,
per-person counts and the hashes of new case references, written through the driver's bulk
path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from itertools import repeat
from typing import Any

import numpy as np
from sqlalchemy import Connection, bindparam, select, update

from schema.models import CaseCount, LoadedCaseRef, PersonContribution

SLICE = 50_000


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


def previous_facts(conn: Connection, version_id: int) -> tuple[np.ndarray, np.ndarray]:
    rows = conn.execute(
        select(CaseCount.combo, CaseCount.cases).where(CaseCount.version_id == version_id)
    ).all()
    return (
        np.array([r[0] for r in rows], dtype=np.int64),
        np.array([r[1] for r in rows], dtype=np.int64),
    )


def _rows(key: int, first: np.ndarray, second: np.ndarray) -> Iterator[tuple[int, int, int]]:
    """(key, a, b) rows, converted to Python ints a slice at a time to keep memory flat."""
    for at in range(0, len(first), SLICE):
        a = first[at : at + SLICE].tolist()
        b = second[at : at + SLICE].tolist()
        yield from zip(repeat(key, len(a)), a, b, strict=True)


def add_version_facts(
    conn: Connection, version_id: int, combos: np.ndarray, cases: np.ndarray
) -> None:
    """Insert a version's facts: distinct packed values, in key order."""
    rows = _rows(version_id, combos, cases)
    _bulk_insert(conn, CaseCount.__tablename__, ["version_id", "combo", "cases"], rows)
    if conn.dialect.name == "postgresql":
        # Fresh statistics, or the planner guesses a handful of rows for the new version.
        conn.exec_driver_sql(f"ANALYZE {CaseCount.__tablename__}")


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
    rows = _rows(dataset_id, pids, cases)
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


def prior_case_refs(conn: Connection, dataset_id: int, lo: int, hi: int) -> np.ndarray:
    """Hashes of the case references loaded before, for hashes in ``lo..hi``, sorted.

    Streamed into one array (a server-side cursor on PostgreSQL): eight bytes a hash, not a
    row object each, however many the dataset holds.
    """
    stmt = (
        select(LoadedCaseRef.ref_hash)
        .where(
            LoadedCaseRef.dataset_id == dataset_id,
            LoadedCaseRef.ref_hash >= lo,
            LoadedCaseRef.ref_hash <= hi,
        )
        .order_by(LoadedCaseRef.ref_hash)
        .execution_options(yield_per=SLICE)
    )
    return np.fromiter(conn.execute(stmt).scalars(), dtype=np.int64)


def add_case_refs(conn: Connection, dataset_id: int, refs: np.ndarray) -> None:
    """Insert hashes a slice at a time: SQLite expands a JSON array in C (json_each), three
    times faster than a million executemany rows; PostgreSQL takes COPY text blocks."""
    table = LoadedCaseRef.__tablename__
    raw: Any = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cur, cur.copy(f"COPY {table} (dataset_id, ref_hash) FROM STDIN") as cp:
            prefix = f"{dataset_id}\t"
            for at in range(0, len(refs), SLICE):
                rows = ("\n" + prefix).join(map(str, refs[at : at + SLICE].tolist()))
                cp.write(prefix + rows + "\n")
        return
    cur = raw.cursor()
    for at in range(0, len(refs), SLICE):
        values = json.dumps(refs[at : at + SLICE].tolist())  # int64 stays an exact integer
        cur.execute(
            f"INSERT INTO {table} (dataset_id, ref_hash) SELECT ?, value FROM json_each(?)",  # noqa: S608
            (dataset_id, values),
        )
    cur.close()
