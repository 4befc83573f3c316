"""The one query over the fact table: case counts grouped by public dimensions.

Grouping and filtering run in SQL. Multi-valued dimensions are bit masks; grouping by one
groups by the mask in SQL, and each mask is then credited to every value it holds (a case
with two referrals counts once under each), which the sensitivity accounts for.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from schema.codelists import codelists
from schema.models import CaseCount

MULTI_VALUED = ("vulnerable_group", "referral")
Key = tuple[str, ...]


def _column(name: str) -> Any:
    return CaseCount.__table__.c[name]


def _filter(dimension: str, values: Sequence[str]) -> ColumnElement[bool]:
    if dimension in MULTI_VALUED:
        dim = codelists()[dimension]
        bits = 0
        for v in values:
            bits |= dim.bit(v)
        held: ColumnElement[bool] = _column(dimension).op("&")(bits) != 0
        return held
    listed: ColumnElement[bool] = _column(dimension).in_(list(values))
    return listed


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
    conditions = [CaseCount.version_id == version_id]
    for dimension, values in (filters or {}).items():
        conditions.append(_filter(dimension, values))
    if period is not None:
        conditions += [CaseCount.month >= period[0], CaseCount.month <= period[1]]
    columns = [_column(d) for d in group_by]
    stmt = select(*columns, func.sum(CaseCount.cases)).where(and_(*conditions)).group_by(*columns)
    rows = session.execute(stmt).all()
    multi = [(i, codelists()[d]) for i, d in enumerate(group_by) if d in MULTI_VALUED]
    if not multi:
        return {tuple(str(v) for v in row[:-1]): int(row[-1]) for row in rows}
    out: dict[Key, int] = defaultdict(int)
    for row in rows:
        keys: list[Key] = [()]
        for i, value in enumerate(row[:-1]):
            spec = next((dim for j, dim in multi if j == i), None)
            if spec is None:
                keys = [(*k, str(value)) for k in keys]
            else:
                held = [c for c in spec.code_list() if int(value) & spec.bit(c)]
                keys = [(*k, c) for k in keys for c in held]
        for k in keys:
            out[k] += int(row[-1])
    return dict(out)
