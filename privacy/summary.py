"""Measuring a summary: a planned set of marginal tables, one OpenDP measurement per table.

A design names its tables (public axes, a time grain, the sensitivity the caller computed
from the contribution bound). Each table is cut into slices by period: one slice per month
for a month table, one per complete year for a year table. Slices of one table hold
disjoint cases, and one person moves all slices of a table together by at most its
sensitivity in L1, so the slices measured with the table's one vector measurement cost
together what one slice costs: its privacy map at the sensitivity. Tables compose by sum.

So the charge of a summary is the sum over tables of each measurement's own map, in whole
micro-ε, never above the ε asked. Later versions of a cumulative dataset measure only their
new slices with the same measurements; the charge of the series stays the largest map per
table ever used (``extension_charge``), so months already summarised are never re-spent.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from privacy.errors import InvalidEpsilon, MalformedQuery
from privacy.layout import Axis
from privacy.loss import Epsilon
from privacy.plan import Plan, plan_release
from privacy.rounding import junction_order

GRAINS = ("month", "year")
_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}", re.ASCII)
MONTH = "month"
Slice = tuple[str, str]  # (table name, period: "YYYY-MM" for month tables, "YYYY" for year)


@dataclass(frozen=True)
class TableSpec:
    """A measured table. Dimensions are rounded in declared order (coarse ones first); a
    month table's month comes last."""

    name: str
    axes: tuple[Axis, ...]
    time: str
    sensitivity: int
    # Not a marginal: the number of codes of this axis that hold at least one case, one
    # cell a year. One person changes at most one code per case they hold, so the caller
    # gives max_cases_per_person as its sensitivity.
    distinct_of: Axis | None = None

    def __post_init__(self) -> None:
        if self.time not in GRAINS:
            raise MalformedQuery(f"time must be one of {', '.join(GRAINS)}", field="time")
        if self.sensitivity < 1:
            raise MalformedQuery("sensitivity must be at least 1", field="sensitivity")
        if self.distinct_of is not None and (self.axes or self.time != "year"):
            raise MalformedQuery("a count of codes with cases is one cell a year", field="tables")

    @property
    def cells(self) -> int:
        return int(np.prod([len(a.codes) for a in self.axes]))


@dataclass(frozen=True)
class Design:
    """The tables of a summary and the dimensions a case may hold several values of (their
    tables count case-values, not cases, and are reconciled among themselves only)."""

    tables: tuple[TableSpec, ...]
    multi_valued: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        names = [t.name for t in self.tables]
        if not names or len(set(names)) != len(names):
            raise MalformedQuery("a design needs tables with distinct names", field="tables")
        for t in self.tables:
            dims = [a.dimension for a in t.axes]
            if MONTH in dims or "year" in dims or len(set(dims)) != len(dims):
                raise MalformedQuery(
                    f"table {t.name}: time is given by its grain, and no dimension twice",
                    field="tables",
                )

        codes: dict[str, tuple[str, ...]] = {}
        for t in self.tables:
            for a in t.axes:
                if codes.setdefault(a.dimension, a.codes) != a.codes:
                    raise MalformedQuery(
                        f"tables disagree on the codes of {a.dimension}", field="tables"
                    )
        for universe in self.universes().values():
            junction_order(universe)  # a cycle is refused here, before anything is measured

    def spec(self, name: str) -> TableSpec:
        return next(t for t in self.tables if t.name == name)

    def universes(self) -> dict[frozenset[str], list[tuple[str, ...]]]:
        """The tables reconciled together in a year (month tables with their month), keyed
        by the multi-valued dimensions they hold: a table of case-values sums to no case."""
        out: dict[frozenset[str], list[tuple[str, ...]]] = {}
        for t in self.tables:
            if t.distinct_of is not None:
                continue
            dims = tuple(a.dimension for a in t.axes) + ((MONTH,) if t.time == MONTH else ())
            out.setdefault(frozenset(dims) & self.multi_valued, []).append(dims)
        return out


def slices(design: Design, months: Sequence[str], measured: Collection[Slice] = ()) -> list[Slice]:
    """The slices a summary of the declared coverage ``months`` ("YYYY-MM") measures that
    the series has not measured yet (``measured``)."""
    bad = [m for m in months if not _MONTH.fullmatch(m) or not 1 <= int(m[5:]) <= 12]
    if bad or len(set(months)) != len(months):
        raise MalformedQuery(
            "the coverage must be distinct months written YYYY-MM"
            + (f"; not a month: {bad[0]!r}" if bad else ""),
            field="months",
        )
    by_year: dict[str, int] = {}
    for m in months:
        by_year[m[:4]] = by_year.get(m[:4], 0) + 1
    out: list[Slice] = []
    for t in design.tables:
        if t.time == MONTH:
            out += [(t.name, m) for m in months]
        else:
            out += [(t.name, y) for y, n in by_year.items() if n == 12]
    done = set(measured)
    return [s for s in out if s not in done]


@dataclass(frozen=True)
class SummaryPlan:
    design: Design
    plans: Mapping[str, Plan]  # per table: scale, measurement and its own map

    @property
    def epsilon(self) -> Epsilon:
        """What the summary charges: the sum of its measurements' maps."""
        return sum((p.epsilon for p in self.plans.values()), Epsilon(0))

    def scale(self, name: str) -> float:
        return self.plans[name].scale


def split_micro(total: Epsilon, weights: Mapping[str, float]) -> dict[str, Epsilon]:
    """Whole micro-ε per table in proportion to ``weights``, adding up to at most ``total``."""
    if any(not (w > 0 and np.isfinite(w)) for w in weights.values()):
        raise InvalidEpsilon("every table's share of the budget must be positive")
    s = sum(weights.values())
    return {k: Epsilon(int(total.micro * w // s)) for k, w in weights.items()}


def plan_summary(design: Design, epsilon: Epsilon, weights: Mapping[str, float]) -> SummaryPlan:
    """One measurement per table, each within its share of ``epsilon``."""
    if set(weights) != {t.name for t in design.tables}:
        raise MalformedQuery("give a budget weight for every table, and only for them")
    shares = split_micro(epsilon, weights)
    plans = {}
    for t in design.tables:
        if shares[t.name].micro < 1:
            raise InvalidEpsilon(f"table {t.name} would get no budget", field="epsilon")
        plans[t.name] = plan_release(
            sensitivity=t.sensitivity,
            cells=t.cells,
            max_epsilon=shares[t.name],
            max_cells=max(t.cells, 1),
            epsilon=shares[t.name],
        )
    return SummaryPlan(design, plans)


def measure_summary(
    plan: SummaryPlan,
    true_slices: Mapping[Slice, Sequence[int]],
    months: Sequence[str],
    measured: Collection[Slice] = (),
) -> dict[Slice, np.ndarray]:
    """Each slice through its table's OpenDP measurement: the noisy cells to store.

    Only new slices of the coverage are measured, each once: measuring a period again would
    add fresh noise to the same cases (an average defeats it), and a year measured before it
    is complete would overlap the same year measured later. Everything is checked before
    the first measurement, so a refusal measures nothing.
    """
    allowed = set(slices(plan.design, months, measured))
    for name, period in true_slices:
        if (name, period) not in allowed:
            raise MalformedQuery(
                f"{name} {period} is not a slice this series may measure now: measured "
                "before, outside the coverage, or a year not yet complete",
                field="slices",
            )
        if len(true_slices[(name, period)]) != plan.design.spec(name).cells:
            raise MalformedQuery(f"slice {name} {period} does not match its table's cells")
    out = {}
    for (name, period), counts in true_slices.items():
        noisy = plan.plans[name].measurement(list(map(int, counts)))
        out[(name, period)] = np.asarray(noisy, dtype=np.int64)
    return out


def extension_charge(plan: SummaryPlan, charged: Mapping[str, Epsilon]) -> Epsilon:
    """What measuring new slices with ``plan`` adds to a series that already charged
    ``charged`` per table: per table, only a map above what was charged before."""
    extra = Epsilon(0)
    for name, p in plan.plans.items():
        before = charged.get(name, Epsilon(0))
        if p.epsilon > before:
            extra = extra + (p.epsilon - before)
    return extra
