"""The one query over the fact table: case counts grouped by public dimensions.

Grouping and filtering run in SQL on the packed key (bit operations, on SQLite and
PostgreSQL alike). Roll-ups (quarter, year, complaint group, FIA city) group by the dimension
they derive from and are folded in Python. Multi-valued dimensions are bit masks: grouping by
one groups by the mask, and each mask is credited to every value it holds (a case with two
referrals counts once under each), which the sensitivity accounts for.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from itertools import chain
from typing import Any

import numpy as np
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    and_,
    func,
    literal_column,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

from schema import facts
from schema.codelists import codelists, month_of_quarter, months_between
from schema.models import CaseCount
from schema.vocabulary import MULTI_VALUED, ROLLUPS, TIME

# A roll-up and the packed dimension it derives from.
BASE_OF = ROLLUPS
Key = tuple[str, ...]


def _position(name: str) -> ColumnElement[int]:
    f = facts.field(name)
    return _bits(f.shift, (1 << f.bits) - 1)


def _bits(shift: int, mask: int) -> ColumnElement[int]:
    # Constants from the code lists, inlined so that the SELECT and GROUP BY expressions are
    # identical for PostgreSQL (which also shifts a bigint by an integer count only).
    extracted: ColumnElement[int] = CaseCount.combo.op(">>")(
        literal_column(str(int(shift)), Integer)
    ).op("&")(literal_column(str(int(mask)), BigInteger))
    return extracted


def _code_of(name: str) -> Callable[[int], str]:
    """Turns a packed value of ``BASE_OF.get(name, name)`` into a code of ``name``."""
    lists = codelists()
    if name == "month":
        return facts.month_code
    if name == "quarter":
        return lambda i: month_of_quarter(facts.month_code(i))
    if name == "year":
        return lambda i: facts.month_code(i)[:4]
    if name in BASE_OF:
        base = lists[BASE_OF[name]].code_list()
        roll = lists.complaint_group_of() if name == "complaint_group" else lists.fia_city_of()
        return lambda i: roll[base[i]]
    codes = lists[name].code_list()
    return lambda i: codes[i]


def _months_of(name: str, values: Sequence[str]) -> set[int]:
    wanted = set(values)
    indices = set()
    for v in values:
        year = int(v[:4])
        for m in months_between(f"{year}-01", f"{year}-12"):
            code = {"month": m, "quarter": month_of_quarter(m), "year": m[:4]}[name]
            if code in wanted:
                indices.add(facts.month_index(int(m[:4]), int(m[5:])))
    return indices


def _filter(name: str, values: Sequence[str]) -> ColumnElement[bool]:
    lists = codelists()
    if name in MULTI_VALUED:
        dim = lists[name]
        bits = 0
        for v in values:
            bits |= dim.bit(v)
        held: ColumnElement[bool] = _bits(facts.field(name).shift, bits) != 0
        return held
    if name in TIME:
        return _position("month").in_(sorted(_months_of(name, values)))
    base = BASE_OF.get(name, name)
    to_code = _code_of(name)
    positions = [i for i in range(len(lists[base].codes)) if to_code(i) in set(values)]
    return _position(base).in_(positions)


def _grouped(
    session: Session,
    version_id: int,
    group_by: Sequence[str],
    filters: Mapping[str, Sequence[str]] | None,
    period: tuple[str, str] | None,
    dbapi_rows: bool = False,
) -> tuple[tuple[str, ...], list[Any]]:
    """The packed dimensions grouped by, and the GROUP BY's rows (their values, then SUM).

    ``dbapi_rows``: on PostgreSQL, the driver's own tuples rather than SQLAlchemy's rows
    (about 1 ms fewer over 2,000 rows). psycopg holds the whole result once the statement
    has run, so every error of the database still comes through SQLAlchemy's execute (and
    ``schema.db.is_busy`` still sees a timeout); SQLite reads rows as they are fetched, so
    it keeps SQLAlchemy's."""
    folded = tuple((name, tuple(values)) for name, values in (filters or {}).items())
    bases, stmt = _statement(version_id, tuple(group_by), folded, period)
    result = session.connection().execute(stmt)
    if dbapi_rows and result.dialect.name == "postgresql":
        rows: list[Any] = list(result.cursor.fetchall())
        result.close()
    else:  # Core rows (the ORM's row processing costs about 2 ms over 2,000 rows)
        rows = list(result.all())
    # SUM over nothing is NULL (no grouping and no matching row): no row then.
    return bases, [row for row in rows if row[-1] is not None]


@lru_cache(maxsize=128)
def _statement(
    version_id: int,
    group_by: tuple[str, ...],
    filters: tuple[tuple[str, tuple[str, ...]], ...],
    period: tuple[str, str] | None,
) -> tuple[tuple[str, ...], Executable]:
    """The GROUP BY of a query's layout, built once per worker (building it took about
    1.5 ms, more than running it through SQLAlchemy's compiled cache)."""
    conditions = [CaseCount.version_id == version_id]
    for name, values in filters:
        conditions.append(_filter(name, values))
    if period is not None:
        lo, hi = (facts.month_index(int(m[:4]), int(m[5:])) for m in period)
        conditions += [_position("month") >= lo, _position("month") <= hi]
    bases = tuple(dict.fromkeys(BASE_OF.get(d, d) for d in group_by))
    stmt = (
        select(*[_position(b) for b in bases], func.sum(CaseCount.cases))
        .where(and_(*conditions))
        .group_by(*[_position(b) for b in bases])
    )
    return bases, stmt


def count_cases(
    session: Session,
    version_id: int,
    group_by: Sequence[str],
    filters: Mapping[str, Sequence[str]] | None = None,
    period: tuple[str, str] | None = None,
) -> dict[Key, int]:
    """True counts per key of the grouped dimensions (keys absent from the data are absent).

    The result is private: it must only ever go into a differentially private release.
    """
    bases, rows = _grouped(session, version_id, group_by, filters, period)
    converters = [(bases.index(BASE_OF.get(d, d)), d, _code_of(d)) for d in group_by]
    out: dict[Key, int] = defaultdict(int)
    for row in rows:
        keys: list[Key] = [()]
        for at, name, to_code in converters:
            value = int(row[at])
            if name in MULTI_VALUED:
                held = [c for i, c in enumerate(codelists()[name].code_list()) if value >> i & 1]
                keys = [(*k, c) for k in keys for c in held]
            else:
                keys = [(*k, to_code(value)) for k in keys]
        for k in keys:
            out[k] += int(row[-1])
    return dict(out)


def count_grid(
    session: Session,
    version_id: int,
    axes: Sequence[tuple[str, Sequence[str]]],
    filters: Mapping[str, Sequence[str]] | None = None,
    period: tuple[str, str] | None = None,
) -> np.ndarray:
    """``count_cases`` filled into the key set of ``axes`` (each a dimension and its codes),
    row-major, as int64: a key the data does not hold is 0, a value outside the codes is
    left out. Decoded with numpy (a lookup per packed value, ``bincount``), the same counts
    exactly (their sums are integers far below 2**53, exact in float64).

    The result is private: it must only ever go into a differentially private release."""
    group_by = [d for d, _ in axes]
    bases, rows = _grouped(session, version_id, group_by, filters, period, dbapi_rows=True)
    shape = [len(codes) for _, codes in axes]
    size = int(np.prod(shape, dtype=np.int64))
    if not rows:
        return np.zeros(size, dtype=np.int64)
    # From one flat iterator: numpy's own conversion of row objects takes 20 µs a row.
    flat_values = np.fromiter(chain.from_iterable(rows), dtype=np.int64)
    table = flat_values.reshape(len(rows), len(bases) + 1)
    source = np.arange(len(rows))  # the GROUP BY row each item comes from
    flat = np.zeros(len(rows), dtype=np.int64)  # its index in the key set so far
    for (name, codes), n in zip(axes, shape, strict=True):
        values = table[source, bases.index(BASE_OF.get(name, name))]
        if name in MULTI_VALUED:  # a mask: credited to every value it holds
            bit = codelists()[name].code_list()
            parts = [(values >> bit.index(c) & 1).astype(bool) for c in codes]
            flat = np.concatenate([flat[held] * n + j for j, held in enumerate(parts)])
            source = np.concatenate([source[held] for held in parts])
            continue
        at = _lookup(name, tuple(codes))[values]
        kept = at >= 0
        flat, source = flat[kept] * n + at[kept], source[kept]
    sums = np.bincount(flat, weights=table[source, -1], minlength=size)
    return sums.astype(np.int64)


@lru_cache(maxsize=64)
def _lookup(name: str, codes: tuple[str, ...]) -> np.ndarray:
    """Each packed value of ``name``'s base to the index of its code in ``codes``, or -1."""
    f = facts.field(BASE_OF.get(name, name))
    to_code, at = _code_of(name), {c: i for i, c in enumerate(codes)}
    out = np.full(1 << f.bits, -1, dtype=np.int64)
    for value in range(1 << f.bits):
        try:
            out[value] = at.get(to_code(value), -1)
        except (IndexError, KeyError, ValueError):  # no code of the list packs to it
            continue
    return out
