"""A statistic over a count query's release: a share, a change or a rate per month.

A query may ask for one (``statistic`` on REST's ``POST /v1/queries`` and on GraphQL's
``countCases``). ``check`` parses it strictly against the query's public facts (its grouped
dimensions, its period, the version's declared coverage) before any case data is read; a
refusal names the field (``statistic.kind``, ``.of``, ``.from``, ``.to``, ``.per``) and the
valid values. ``block`` computes it after the release, from the release's stored noisy cells
and noise scale (``privacy.statistics``); a query a summary covers has it from the derived
cells' noise weights (``render``, with ``api.summaries.derived.table``). No new randomness
and no charge, and the release's canonical key never holds the statistic, so the counts are
bought once whatever is asked of them. Intervals are at the query's confidence.

The block (REST keys each cell by dimension, as the release's cells; GraphQL lists them)::

    {"kind": "share", "of": "gender", "from": null, "to": null, "per": null,
     "months": null, "confidence": 0.95,
     "cells": [{"key": {...}, "value": 0.85, "lower": 0.8, "upper": 0.9,
                "percent": null, "suppressed": false, "reason": null}]}

- share: one cell per cell of the table (every grouped dimension in the key); ``value`` the
  count over the total of its line along ``of``, in [0, 1], 4 decimals.
- change: one cell per combination of the other grouped dimensions; ``value`` the cases in
  ``to`` less those in ``from`` (a whole number), ``percent`` ``{"value", "lower", "upper"}``
  the change in percent, 1 decimal (``upper`` null: unbounded, the earlier count may be 0).
- rate: one cell per combination of the other grouped dimensions; ``value`` cases per month
  over the query's ``months`` (the months it counts), 1 decimal.

Values are rounded to the nearest; lower bounds down and upper bounds up, so an interval
never narrows. A suppressed cell has null numbers and a ``reason``: ``count_suppressed`` (a
count it uses is suppressed), ``total_suppressed`` (a count of a share's total is) or
``not_computable`` (every cell: the computation failed, which no input should make it do). A
share of a zero total has a null value and no reason.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

from api.errors import Conflict, InvalidQuery
from api.releases import Resolved
from privacy import Axis, Policy, statistics
from privacy.ratios import Ratio
from privacy.statistics import Figure
from schema.access import Release
from schema.codelists import month_of_quarter, months_between
from schema.vocabulary import MULTI_VALUED, TIME

log = logging.getLogger("amaan.statistics")
KINDS = ("share", "change", "rate")
FIELDS = {"share": ("of",), "change": ("from", "to"), "rate": ("per",)}
PER = ("month",)
_PERIOD = re.compile(r"(\d{4})(?:-(0[1-9]|1[0-2])|-Q([1-4]))?", re.ASCII)
# A period given as a year, quarter or month; the time dimensions that can hold it whole.
_HOLDS = {"year": ("year", "quarter", "month"), "quarter": ("quarter", "month")}
_HOLDS["month"] = ("month",)


@dataclass(frozen=True)
class Statistic:
    kind: str
    of: str | None = None
    before: str | None = None  # a change's ``from`` and ``to``
    after: str | None = None
    time: str | None = None  # the grouped time dimension a change or rate runs along
    months: int | None = None  # a rate's months

    def head(self, confidence: float) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "of": self.of,
            "from": self.before,
            "to": self.after,
            "per": "month" if self.kind == "rate" else None,
            "months": self.months,
            "confidence": confidence,
        }


def _code(dimension: str, month: str) -> str:
    """The code of ``dimension`` (month, quarter or year) that holds ``month``."""
    if dimension == "month":
        return month
    return month_of_quarter(month) if dimension == "quarter" else month[:4]


def _refuse(name: str, message: str, **details: Any) -> InvalidQuery:
    return InvalidQuery(f"statistic.{name}: {message}", field=f"statistic.{name}", **details)


def check(raw: Mapping[str, Any] | None, r: Resolved) -> Statistic | None:
    """The statistic asked for, checked against public facts only; None when none is."""
    if raw is None:
        return None
    kind = raw.get("kind")
    if kind not in KINDS:
        raise _refuse("kind", f"one of {', '.join(KINDS)}, not {str(kind)[:16]!r}", valid=KINDS)
    given = [n for n in ("of", "from", "to", "per") if raw.get(n) is not None]
    extra = [n for n in given if n not in FIELDS[kind]]
    if extra:
        raise _refuse(extra[0], f"not used by a {kind}", valid=list(FIELDS[kind]))
    for name in FIELDS[kind]:
        if raw.get(name) is None:
            raise _refuse(name, f"a {kind} needs it")
    group_by = r.canonical.group_by
    times = [g for g in group_by if g in TIME]
    if kind == "share":
        of = str(raw["of"]).strip().lower()
        if of not in group_by:
            raise _refuse("of", "must be one of the query's group_by", valid=group_by)
        if of in MULTI_VALUED:
            valid = [g for g in group_by if g not in MULTI_VALUED]
            raise _refuse("of", f"{of} is multi-valued: its counts do not add up", valid=valid)
        return Statistic("share", of=of)
    if len(times) > 1 or (kind == "change" and not times):
        what = "exactly one" if kind == "change" else "at most one"
        raise _refuse("kind", f"a {kind} needs {what} time dimension in group_by", valid=TIME)
    months = _counted(r)
    time = times[0] if times else None
    if kind == "rate":
        if raw["per"] not in PER:
            raise _refuse("per", f"one of {', '.join(PER)}", valid=PER)
        if not months:
            raise _refuse("per", "the query counts no month")
        return Statistic("rate", time=time, months=len(months))
    assert time is not None
    before, after = (_period(str(raw[n]), n, time, months) for n in ("from", "to"))
    if before[0] != after[0]:
        raise _refuse("to", "years with years, quarters with quarters, months with months")
    if before[1] >= after[1]:
        raise _refuse("to", f"must come after from ({before[1]})")
    return Statistic("change", before=before[1], after=after[1], time=time)


def _counted(r: Resolved) -> list[str]:
    """The months the query counts: its period within the declared coverage (a period beyond
    it is refused later, with the other refusals), less those its time filters leave out."""
    first, last = r.version.first_month, r.version.last_month
    start, end = r.canonical.period
    filters = {d: set(v) for d, v in r.canonical.filters.items() if d in TIME}
    return [
        m
        for m in months_between(max(start or first, first), min(end or last, last))
        if all(_code(d, m) in kept for d, kept in filters.items())
    ]


def _period(text: str, name: str, time: str, counted: list[str]) -> tuple[int, str]:
    """A period's granularity (4 year, 7 month, 8 quarter: its length) and its code."""
    found = _PERIOD.fullmatch(text.strip().upper())
    if found is None:
        raise _refuse(name, "a year (2024), quarter (2024-Q1) or month (2024-03)")
    code = found.group(0)
    unit = "month" if found.group(2) else "quarter" if found.group(3) else "year"
    if time not in _HOLDS[unit]:
        valid = _whole(time, counted)
        raise _refuse(name, f"a {unit} cannot be read from a table by {time}", valid=valid)
    valid = _whole(unit, counted)
    if code not in valid:
        raise _refuse(name, f"{code} must lie wholly in the months the query counts", valid=valid)
    return len(code), code


def _whole(unit: str, counted: list[str]) -> list[str]:
    """The years, quarters or months whose every month the query counts."""
    size = {"year": 12, "quarter": 3, "month": 1}[unit]
    held = Counter(_code(unit, m) for m in counted)
    return [c for c, n in held.items() if n == size]


def block(stat: Statistic, release: Release, content: bytes, confidence: float) -> dict[str, Any]:
    """The statistic of a direct release served (``content``: its body at this confidence),
    from the noisy cells, scale and policy it stored."""
    stored = json.loads(release.noisy) if release.noisy else None
    if not isinstance(stored, dict):
        raise Conflict("this release was stored before statistics could be asked of it")
    axes = [Axis(d, tuple(codes), frozenset(sens)) for d, codes, sens in stored["axes"]]

    def table(hidden: list[bool]) -> statistics.Table:
        scale, policy = float(stored["scale"]), Policy(**stored["policy"])
        return statistics.direct_table(axes, stored["cells"], scale, hidden, policy)

    return render(stat, axes, json.loads(content), confidence, table)


def render(
    stat: Statistic,
    axes: Sequence[Axis],
    body: Mapping[str, Any],
    confidence: float,
    table: Callable[[list[bool]], statistics.Table],
) -> dict[str, Any]:
    """The block of a table served (``body``), built by ``table`` from which of its cells
    are suppressed: a direct release's (``block``) or one derived from a summary.

    It runs after the read (a direct release's, in the transaction that charged it), so it
    must not raise: should the computation fail all the same (a bug, never an input: the
    tests drive it with every extreme value), each cell is suppressed with reason
    ``not_computable`` and only the error's type is logged, never a value."""
    cells = [c for c in body["cells"] if not c["total"]]
    labels = {(k["dimension"], k["code"]): k for c in cells for k in c["key"]}
    kept = [a for a in axes if stat.kind == "share" or a.dimension != stat.time]
    places = 4 if stat.kind == "share" else 0 if stat.kind == "change" else 1
    try:
        figures = figures_of(stat, table([bool(c["suppressed"]) for c in cells]), confidence)
        out = [_cell(f, _key(labels, kept, f.key), places) for f in figures]
    except Exception as exc:  # total by design: see the docstring
        log.error("statistic %s not computable: %s", stat.kind, type(exc).__name__)
        out = [
            _cell(_hidden(key), _key(labels, kept, key), places)
            for key in product(*[a.codes for a in kept])
        ]
    return stat.head(confidence) | {"cells": out}


def figures_of(stat: Statistic, table: statistics.Table, confidence: float) -> list[Figure]:
    """The statistic's figures over a released table (direct, or derived from a summary)."""
    if stat.kind == "share":
        assert stat.of is not None
        return statistics.shares(table, stat.of, confidence)
    if stat.kind == "rate":
        return statistics.rates(table, stat.time, stat.months or 1, confidence)
    assert stat.time is not None
    axis = table.codes[table.dimensions.index(stat.time)]
    before = [i for i, c in enumerate(axis) if _within(stat.time, c, stat.before)]
    after = [i for i, c in enumerate(axis) if _within(stat.time, c, stat.after)]
    return statistics.changes(table, stat.time, before, after, confidence)


def _key(labels: Mapping[tuple[str, str], Any], kept: list[Axis], key: tuple[str, ...]) -> Any:
    return [labels[(a.dimension, k)] for a, k in zip(kept, key, strict=True)]


def _hidden(key: tuple[str, ...]) -> Figure:
    return Figure(key, None, None, None, True, "not_computable")


def _within(time: str, code: str, period: str | None) -> bool:
    """Whether a time code lies in a period (year, quarter or month) at least as long."""
    if period is None:
        return False
    if time == "month":
        return _code({4: "year", 7: "month", 8: "quarter"}[len(period)], code) == period
    if time == "quarter":
        return code == period or code[:4] == period
    return code == period


def _down(x: float | None, places: int) -> float | None:
    return None if x is None else math.floor(x * 10**places + 1e-9) / 10**places


def _up(x: float | None, places: int) -> float | None:
    return None if x is None else math.ceil(x * 10**places - 1e-9) / 10**places


def _near(x: float | None, places: int) -> float | None:
    return None if x is None else round(x, places)


def _number(x: float | None, places: int) -> float | int | None:
    """Whole numbers (a change in cases) as JSON integers."""
    return int(x) if places == 0 and x is not None else x


def _cell(f: Figure, key: list[dict[str, str]], places: int) -> dict[str, Any]:
    percent: dict[str, Any] | None = None
    if f.percent is not None and not f.suppressed:
        p: Ratio = f.percent
        percent = {"value": _near(p.value, 1), "lower": _down(p.lower, 1), "upper": _up(p.upper, 1)}
    return {
        "key": key,
        "value": _number(_near(f.value, places), places),
        "lower": _number(_down(f.lower, places), places),
        "upper": _number(_up(f.upper, places), places),
        "percent": percent,
        "suppressed": f.suppressed,
        "reason": f.reason,
    }
