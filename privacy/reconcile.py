"""Reconciling noisy marginal tables into one consistent estimate, with exact variances.

Every measured table of a block is a marginal (a sum over the other attributes) of one
unknown table of cases, plus independent noise of a known variance per cell. The weighted
least-squares fit over all of them is the estimate the US Census Bureau's post-processing
computes, and for marginals it has a closed form: split a table on a product of code lists
into its ANOVA components (one per set S of attributes: the part of the S-marginal that no
smaller marginal explains). These components are orthogonal and the normal equations of
marginal measurements are diagonal in them, so the fit of component S is the
inverse-variance average of every measured table's own S-component, and the components of
different S are uncorrelated. Hence exact estimates, variances and covariances for any
linear query on a marginal that lies within one measured table, in time linear in the cells.

Nothing here reads true counts: only noisy values and public layouts (post-processing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from privacy.errors import MalformedQuery
from privacy.layout import Axis
from privacy.noise_law import dlap_variance


@dataclass(frozen=True)
class Measured:
    """One noisy table: cells row-major over ``axes``, each with its own discrete-Laplace
    noise of ``scale`` (OpenDP's vector measurement)."""

    axes: tuple[Axis, ...]
    noisy: np.ndarray
    scale: float

    @property
    def dims(self) -> tuple[str, ...]:
        return tuple(a.dimension for a in self.axes)

    @property
    def variance(self) -> float:
        return dlap_variance(self.scale)


def _subsets(dims: Sequence[str]) -> list[frozenset[str]]:
    return [frozenset(c) for k in range(len(dims) + 1) for c in combinations(dims, k)]


def _centre(values: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    """The projection that removes every mean along ``axes`` (the ANOVA centring)."""
    for i in axes:
        values = values - values.mean(axis=i, keepdims=True)
    return values


class Fit:
    """The weighted least-squares reconciliation of the measured tables of one block."""

    def __init__(self, tables: Sequence[Measured]) -> None:
        if not tables:
            raise MalformedQuery("a block needs at least one measured table")
        self.tables = tuple(tables)
        self.codes: dict[str, tuple[str, ...]] = {}
        for t in self.tables:
            if len(set(t.dims)) != len(t.dims):
                raise MalformedQuery(f"a table names a dimension twice: {t.dims}")
            if t.noisy.shape != (int(np.prod([len(a.codes) for a in t.axes])),):
                raise MalformedQuery(f"the noisy values of {t.dims} do not match its axes")
            if not (t.scale > 0 and np.isfinite(t.scale)):
                raise MalformedQuery(f"the noise scale of {t.dims} must be positive and finite")
            for a in t.axes:
                if self.codes.setdefault(a.dimension, a.codes) != a.codes:
                    raise MalformedQuery(f"the tables disagree on the codes of {a.dimension}")
        self.order = tuple(self.codes)  # canonical attribute order of the components
        self._weight: dict[frozenset[str], float] = {}
        sums: dict[frozenset[str], np.ndarray] = {}
        for t in self.tables:
            lam = 1.0 / (t.noisy.size * t.variance)
            grid = t.noisy.astype(float).reshape([len(a.codes) for a in t.axes])
            for s in _subsets(t.dims):
                part = self._component(grid, t.dims, s)
                self._weight[s] = self._weight.get(s, 0.0) + lam
                sums[s] = sums.get(s, 0.0) + lam * part
        self.theta = {s: sums[s] / self._weight[s] for s in sums}
        self._cell_variance: dict[tuple[str, ...], float] = {}

    def _canonical(self, s: frozenset[str]) -> list[str]:
        return [d for d in self.order if d in s]

    def _component(self, grid: np.ndarray, dims: tuple[str, ...], s: frozenset[str]) -> np.ndarray:
        """The S-component of a table's S-marginal, axes in canonical order."""
        keep = self._canonical(s)
        summed = grid.sum(axis=tuple(i for i, d in enumerate(dims) if d not in s))
        rest = [d for d in dims if d in s]
        summed = np.transpose(summed, [rest.index(d) for d in keep]) if keep else summed
        return _centre(summed, range(len(keep)))

    def size(self, dims: Sequence[str]) -> int:
        return int(np.prod([len(self.codes[d]) for d in dims]))

    def covering(self, dims: Sequence[str]) -> Measured:
        """The smallest measured table whose dimensions include ``dims``."""
        unknown = [d for d in dims if d not in self.codes]
        if unknown:
            raise MalformedQuery(f"no measured table holds {', '.join(unknown)}", field="group_by")
        fits = [t for t in self.tables if set(dims) <= set(t.dims)]
        if not fits:
            raise MalformedQuery(
                f"{' × '.join(dims)} does not lie within one measured table", field="group_by"
            )
        return min(fits, key=lambda t: t.noisy.size)

    def estimate(self, dims: Sequence[str]) -> np.ndarray:
        """The reconciled marginal on ``dims`` (row-major in that order), as reals."""
        self.covering(dims)
        n_b = self.size(dims)
        out = np.zeros([len(self.codes[d]) for d in dims])
        for s in _subsets(dims):
            keep = self._canonical(s)
            part = self.theta[s] * (self.size(keep) / n_b)
            shape = [len(self.codes[d]) if d in s else 1 for d in dims]
            order = [keep.index(d) for d in dims if d in s]
            out = out + np.transpose(part, order).reshape(shape) if keep else out + part
        return out.reshape(-1)

    def variance(self, dims: Sequence[str], query: np.ndarray) -> float:
        """Exact variance of ``query · estimate(dims)`` for a weight vector over its cells."""
        return float(sum(t.variance * float(g @ g) for t, g in self.coefficients(dims, query)))

    def cell_variance(self, dims: Sequence[str]) -> float:
        """Every cell of a reconciled marginal has the same variance: this one."""
        key = tuple(dims)
        if key not in self._cell_variance:
            self.covering(dims)
            n_b = self.size(dims)
            total = 0.0
            for s in _subsets(dims):
                shrink = float(np.prod([1 - 1 / len(self.codes[d]) for d in s]))
                total += self.size(list(s)) * shrink / (n_b**2 * self._weight[s])
            self._cell_variance[key] = total
        return self._cell_variance[key]

    def coefficients(
        self, dims: Sequence[str], query: np.ndarray
    ) -> list[tuple[Measured, np.ndarray]]:
        """How ``query · estimate(dims)`` weighs each measured cell's noise.

        The estimate is linear in the noisy cells, so its noise is the same weighted sum of
        the measurement noises: exact variances, covariances and distributions follow.
        """
        self.covering(dims)
        n_b = self.size(dims)
        q = np.asarray(query, dtype=float).reshape([len(self.codes[d]) for d in dims])
        out = []
        for t in self.tables:
            lam = 1.0 / (t.noisy.size * t.variance)
            g = np.zeros([len(a.codes) for a in t.axes])
            for s in _subsets([d for d in dims if d in t.dims]):
                r = q.sum(axis=tuple(i for i, d in enumerate(dims) if d not in s))
                inner = [d for d in dims if d in s]
                r = _centre(r, range(len(inner)))
                scale = self.size(inner) / n_b * lam / self._weight[s]
                shape = [len(a.codes) if a.dimension in s else 1 for a in t.axes]
                order = [inner.index(d) for d in t.dims if d in s]
                g = g + scale * (np.transpose(r, order).reshape(shape) if inner else r)
            out.append((t, g.reshape(-1)))
        return out
