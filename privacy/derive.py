"""A published summary, reconciled, and the tables it answers for free.

Blocks are years: cases of different years are disjoint, so each year is reconciled on its
own, over its covered months (``month`` is an axis of the year's month tables). Within a
year, tables that group by a multi-valued dimension count case-values, not cases, and form
their own reconciliation. A question is covered when, in every year it touches, its
grouped and filtered dimensions (roll-ups taken back to their base: complaint group to
complaint type, quarter and year to month) lie within one measured table; the answer is a
sum of that table's rounded cells, so it is whole, non-negative and consistent with every
other answer, and its interval comes from the reconciliation's exact noise weights.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import reduce

import numpy as np

from privacy.errors import MalformedQuery
from privacy.layout import Axis
from privacy.noise_law import Term, half_width, terms
from privacy.questions import TIME, Answer, Question, Rollup, base_of, check, time_label
from privacy.ratios import Linear
from privacy.reconcile import Fit, Measured
from privacy.rounding import round_tables
from privacy.summary import MONTH, Design, Slice, slices


@dataclass
class _Part:
    fit: Fit
    rounded: dict[tuple[str, ...], np.ndarray]


@dataclass(frozen=True)
class _Axis:
    dimension: str
    codes: list[str]
    rows: np.ndarray  # output codes × the dimension's codes


@dataclass(frozen=True)
class _Cell:
    """One cell of an answer within one year."""

    key: tuple[str, ...]
    shown: int
    value: float
    part: _Part
    dims: list[str]
    rows: tuple[np.ndarray, ...]  # per dimension, which of its codes the cell sums
    year: str
    universe: frozenset[str]
    pattern: Hashable  # cells of one pattern share their noise law (codes are exchangeable)

    @property
    def weights(self) -> np.ndarray:
        """The cell as a weight per cell of the reconciled marginal (built only when asked)."""
        return reduce(np.multiply.outer, self.rows, np.ones(())).reshape(-1)


class Summary:
    """A summary rebuilt from what is stored: its design, scales and noisy slices."""

    def __init__(
        self,
        design: Design,
        scales: Mapping[str, float],
        noisy: Mapping[Slice, np.ndarray],
        months: Sequence[str],
        rollups: Sequence[Rollup] = (),
    ) -> None:
        slices(design, months)  # the coverage must be distinct YYYY-MM months
        if not months:
            raise MalformedQuery("a summary covers at least one month", field="months")
        self.design, self.months = design, tuple(months)
        self.scales, self.noisy = dict(scales), noisy
        self.rollups = {r.dimension: r for r in rollups}
        self.codes = {a.dimension: a.codes for t in design.tables for a in t.axes}
        self.blocks: dict[str, dict[frozenset[str], _Part]] = {}
        for year in dict.fromkeys(m[:4] for m in self.months):
            in_year = tuple(m for m in self.months if m[:4] == year)
            found: dict[frozenset[str], list[Measured]] = {}
            for t in design.tables:
                if t.distinct_of is not None:
                    continue
                axes, cells = self._block_table(t.name, t.time, year, in_year, noisy)
                if cells is None:
                    continue
                universe = frozenset(a.dimension for a in axes) & design.multi_valued
                found.setdefault(universe, []).append(Measured(axes, cells, scales[t.name]))
            self.blocks[year] = {}
            for u, ts in found.items():
                fit = Fit(ts)
                rounded = round_tables(fit, [t.dims for t in ts], from_total=not u)
                self.blocks[year][u] = _Part(fit, rounded)

    def distinct(self, name: str, year: str) -> Linear:
        """A count of codes with cases: the noisy count, shown within its public range."""
        spec = self.design.spec(name)
        if spec.distinct_of is None or (name, year) not in self.noisy:
            raise MalformedQuery(f"no count of codes named {name} for {year}", field="name")
        noisy = int(self.noisy[(name, year)][0])
        shown = min(max(noisy, 0), len(spec.distinct_of.codes))
        return Linear(float(noisy), shown, {(year, name): (self.scales[name], np.ones(1))})

    def _block_table(
        self,
        name: str,
        grain: str,
        year: str,
        in_year: tuple[str, ...],
        noisy: Mapping[Slice, np.ndarray],
    ) -> tuple[tuple[Axis, ...], np.ndarray | None]:
        axes = self.design.spec(name).axes
        if grain != MONTH:
            return axes, noisy.get((name, year))
        missing = [m for m in in_year if (name, m) not in noisy]
        if missing:
            raise MalformedQuery(f"table {name} has no slice for {', '.join(missing)}")
        stacked = np.stack([np.asarray(noisy[(name, m)]) for m in in_year], axis=-1)
        return (*axes, Axis(MONTH, in_year)), stacked.reshape(-1)

    def _rows(self, dim: str, grouped: str | None, q: Question) -> tuple[list[str], np.ndarray]:
        """Output codes and a 0/1 matrix from ``dim``'s codes, for the grouped form."""
        base = self.codes[dim]
        keep = np.ones(len(base), dtype=bool)
        for fdim, values in q.filters.items():
            if fdim == dim or (fdim not in self.codes and self._base(fdim) == dim):
                parent = self.rollups[fdim].parent if fdim != dim else {c: c for c in base}
                keep &= np.array([parent[c] in values for c in base])
        if grouped is None:
            return [""], keep[None, :].astype(float)
        if grouped == dim:
            out = [c for c, k in zip(base, keep, strict=True) if k]
            return out, np.eye(len(base))[keep]
        r = self.rollups[grouped]
        out = [
            c
            for c in r.codes
            if any(k and r.parent[b] == c for b, k in zip(base, keep, strict=True))
        ]
        rows = np.array(
            [[float(k and r.parent[b] == c) for b, k in zip(base, keep, strict=True)] for c in out]
        )
        return out, rows

    def _base(self, dim: str) -> str:
        return base_of(dim, self.codes, self.rollups)

    def _plan(self, q: Question, year: str, chosen: tuple[str, ...]) -> list[_Axis]:
        """The base dimensions one year needs, each with its output codes and 0/1 matrix."""
        time = [d for d in q.group_by if d in TIME]
        axes = []
        dims = [d for d in q.group_by if d not in TIME] + [
            d for d in q.filters if d not in q.group_by
        ]
        for d in dict.fromkeys(self._base(d) for d in dims):
            grouped = next((g for g in q.group_by if g not in TIME and self._base(g) == d), None)
            axes.append(_Axis(d, *self._rows(d, grouped, q)))
        block = tuple(m for m in self.months if m[:4] == year)
        if (time and time[0] != "year") or chosen != block:
            label = time_label(time[0] if time else "year")
            out = list(dict.fromkeys(label(m) for m in chosen))
            rows = np.array([[float(m in chosen and label(m) == c) for m in block] for c in out])
            axes.append(_Axis(MONTH, out if time else [""], rows))
        return axes

    def _chosen(self, q: Question) -> tuple[str, ...]:
        return check(q, self.months, self.codes, self.rollups)

    def _year(self, q: Question, year: str, chosen: tuple[str, ...]) -> list[_Cell]:
        axes = self._plan(q, year, chosen)
        dims = [a.dimension for a in axes]
        universe = frozenset(dims) & self.design.multi_valued
        part = self.blocks[year].get(universe)
        if part is None:
            raise MalformedQuery(f"the summary measured no table of {' × '.join(dims)} in {year}")
        try:
            table = part.fit.covering(dims)
        except MalformedQuery as exc:  # say which year: a year still open has no year tables
            raise MalformedQuery(f"{exc} in {year}", **exc.details) from None
        grid = part.rounded[table.dims].reshape([len(a.codes) for a in table.axes])
        kept = [d for d in table.dims if d in dims]
        whole = grid.sum(axis=tuple(i for i, d in enumerate(table.dims) if d not in dims))
        whole = np.transpose(whole, [kept.index(d) for d in dims]) if dims else whole
        real = part.fit.estimate(dims).reshape(np.shape(whole))
        shown, value = np.asarray(whole, dtype=float), real
        for i, a in enumerate(axes):
            shown = np.moveaxis(np.tensordot(a.rows, shown, axes=([1], [i])), 0, i)
            value = np.moveaxis(np.tensordot(a.rows, value, axes=([1], [i])), 0, i)
        out = []
        for index in np.ndindex(*[len(a.codes) for a in axes]):
            codes = {a.dimension: a.codes[j] for a, j in zip(axes, index, strict=True)}
            key = tuple(
                (codes.get(MONTH, year) if g in TIME else codes[self._base(g)]) for g in q.group_by
            )
            rows = tuple(a.rows[j] for a, j in zip(axes, index, strict=True))
            pattern = (year, universe, tuple(dims), tuple(int(r.sum()) for r in rows))
            out.append(
                _Cell(
                    key,
                    int(np.rint(shown[index])),
                    float(value[index]),
                    part,
                    dims,
                    rows,
                    year,
                    universe,
                    pattern,
                )
            )
        return out

    def _cells(self, q: Question) -> dict[tuple[str, ...], list[_Cell]]:
        chosen = self._chosen(q)
        cells: dict[tuple[str, ...], list[_Cell]] = {}
        for year in self.blocks:
            in_year = tuple(m for m in chosen if m[:4] == year)
            if in_year:
                for cell in self._year(q, year, in_year):
                    cells.setdefault(cell.key, []).append(cell)
        return cells

    def figure(self, q: Question, key: tuple[str, ...]) -> Linear:
        """One cell of an answer with its full noise weights (for shares and changes)."""
        parts = self._cells(q).get(tuple(key))
        if parts is None:
            raise MalformedQuery(f"no cell {key} in the answer", field="key")
        return _linear(parts)

    def figures(self, q: Question) -> dict[tuple[str, ...], Linear]:
        """Every cell of an answer with its full noise weights, by key."""
        return {key: _linear(parts) for key, parts in self._cells(q).items()}

    def answer(self, q: Question, confidence: float = 0.95) -> Answer:
        """A covered question answered from the summary: free, whole, consistent."""
        cells = self._cells(q)
        cache: dict[Hashable, tuple[Term, ...]] = {}
        shown, value, lower, upper, halves = [], [], [], [], []
        for parts in cells.values():
            ts: list[Term] = []
            for c in parts:
                if c.pattern not in cache:
                    weighted = [(t.scale, g) for t, g in c.part.fit.coefficients(c.dims, c.weights)]
                    cache[c.pattern] = terms(weighted)
                ts += cache[c.pattern]
            s = sum(c.shown for c in parts)
            v = sum(c.value for c in parts)
            h = half_width(tuple(sorted(ts, reverse=True)), confidence)
            halves.append(h)
            shown.append(s)
            value.append(v)
            lower.append(max(0, int(np.floor(min(v - h, s)))))
            upper.append(int(np.ceil(max(v + h, s))))
        return Answer(
            tuple(q.group_by),
            tuple(cells),
            np.array(shown, dtype=np.int64),
            np.array(value),
            np.array(lower, dtype=np.int64),
            np.array(upper, dtype=np.int64),
            confidence,
            np.array(halves, dtype=float),
        )


def _linear(parts: list[_Cell]) -> Linear:
    """A cell of an answer (one part per year) as a linear combination of the noises."""
    out: Linear | None = None
    for c in parts:
        noise: dict[Hashable, tuple[float, np.ndarray]] = {
            (c.year, c.universe, t.dims): (t.scale, g)
            for t, g in c.part.fit.coefficients(c.dims, c.weights)
        }
        one = Linear(c.value, c.shown, noise)
        out = one if out is None else out + one
    assert out is not None
    return out
