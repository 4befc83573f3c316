"""Three estimators over the same noisy marginals, at the same ε: RMSE, coverage, time.

(a) independent tables: each released as measured, clamped at zero, with OpenDP's interval;
(b) the closed-form weighted least-squares reconciliation (``privacy.reconcile``), shown as
    the consistent whole counts of ``privacy.rounding``, with its exact intervals;
(c) a graphical-model fit by ``mbi`` (the package behind OpenDP's ContingencyTable; mirror
    descent on the marginal polytope), with intervals of ±z × the noise sd of the table.
Measured on the default design's case tables for 2024 (the multi-valued tables are not a
partition of cases, so mbi cannot model them).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import numpy as np

from privacy.accuracy import cell_half_width
from privacy.layout import Axis
from privacy.noise_law import dlap_variance, half_width, terms
from privacy.reconcile import Fit, Measured
from privacy.rounding import round_tables
from privacy.summary import MONTH, Design, SummaryPlan, measure_summary

YEAR = "2024"
Z95 = 1.959964


def _tables(design: Design, plan: SummaryPlan, slices: Mapping, months: list[str]) -> list:
    """The 2024 case tables: (dims, axes, truth, noisy, scale)."""
    out = []
    for t in design.tables:
        dims = {a.dimension for a in t.axes}
        if t.distinct_of is not None or dims & design.multi_valued:
            continue
        if t.time == MONTH:
            truth = np.stack([slices[(t.name, m)] for m in months], axis=-1).reshape(-1)
            axes = (*t.axes, Axis(MONTH, tuple(months)))
        else:
            truth, axes = slices[(t.name, YEAR)], t.axes
        out.append((tuple(a.dimension for a in axes), axes, truth, plan.scale(t.name), t.name))
    return out


def _noisy(plan: SummaryPlan, tables: list, months: list[str]) -> list[np.ndarray]:
    out = []
    for dims, _, truth, _, name in tables:
        if MONTH in dims:
            n = len(months)
            grid = truth.reshape(-1, n)
            parts = measure_summary(
                plan, {(name, m): grid[:, i] for i, m in enumerate(months)}, months
            )
            out.append(np.stack([parts[(name, m)] for m in months], axis=-1).reshape(-1))
        else:
            out.append(measure_summary(plan, {(name, YEAR): truth}, months)[(name, YEAR)])
    return out


MARGINS = [(), ("gender",), ("month",), ("complaint_type",)]


def _sum_to(cells: np.ndarray, dims: tuple[str, ...], sizes: dict, keep: tuple[str, ...]):
    grid = np.asarray(cells, float).reshape([sizes[d] for d in dims])
    summed = grid.sum(axis=tuple(i for i, d in enumerate(dims) if d not in keep))
    rest = [d for d in dims if d in keep]
    return np.transpose(summed, [rest.index(d) for d in keep]).reshape(-1) if keep else summed


def _from_tables(tables: list, shown: list[np.ndarray]) -> Callable:
    """A margin summed from the smallest table that holds it, as a reader would."""
    sizes = {a.dimension: len(a.codes) for t in tables for a in t[1]}

    def margin(keep: tuple[str, ...]) -> np.ndarray:
        i = min(
            (i for i, t in enumerate(tables) if set(keep) <= set(t[0])),
            key=lambda i: tables[i][2].size,
        )
        return _sum_to(shown[i], tables[i][0], sizes, keep)

    return margin


def independent(tables: list, noisy: list[np.ndarray]) -> tuple[list, Callable]:
    out = []
    for (_, _, _, scale, _), y in zip(tables, noisy, strict=True):
        h = cell_half_width(scale, 0.95)
        out.append((np.maximum(y, 0), np.maximum(y - h, 0), y + h))
    return out, _from_tables(tables, [o[0] for o in out])


def _fit(tables: list, noisy: list[np.ndarray]) -> Fit:
    return Fit([Measured(t[1], y, t[3]) for t, y in zip(tables, noisy, strict=True)])


def reconciled(tables: list, noisy: list[np.ndarray]) -> tuple[list, Callable]:
    fit = _fit(tables, noisy)
    rounded = round_tables(fit, [t[0] for t in tables])
    out = []
    for dims, _, _, _, _ in tables:
        real, h, shown = fit.estimate(dims), _reconciled_half_width(fit, dims), rounded[dims]
        out.append((shown, np.maximum(np.minimum(real - h, shown), 0), np.maximum(real + h, shown)))
    return out, _from_tables(tables, [o[0] for o in out])


def unrounded(tables: list, noisy: list[np.ndarray]) -> tuple[list, Callable]:
    fit = _fit(tables, noisy)
    out = []
    for dims, _, _, _, _ in tables:
        real, h = fit.estimate(dims), _reconciled_half_width(fit, dims)
        out.append((real, real - h, real + h))
    return out, lambda keep: fit.estimate(keep)


_HALF: dict = {}


def _reconciled_half_width(fit: Fit, dims: tuple[str, ...]) -> float:
    key = (dims, tuple(t.scale for t in fit.tables))
    if key not in _HALF:
        q = np.zeros(fit.size(dims))
        q[0] = 1.0  # every cell of a marginal has the same noise law
        weighted = [(t.scale, g) for t, g in fit.coefficients(dims, q)]
        _HALF[key] = half_width(terms(weighted), 0.95)
    return _HALF[key]


def graphical(tables: list, noisy: list[np.ndarray]) -> tuple[list, Callable]:
    import mbi

    sizes = {}
    for _, axes, *_ in tables:
        sizes |= {a.dimension: len(a.codes) for a in axes}
    domain = mbi.Domain.fromdict(sizes)
    measurements = [
        mbi.LinearMeasurement(y.astype(float), dims, stddev=float(np.sqrt(dlap_variance(s))))
        for (dims, _, _, s, _), y in zip(tables, noisy, strict=True)
    ]
    model = mbi.estimation.mirror_descent(domain, measurements, iters=1000)
    out = []
    for dims, _, _, scale, _ in tables:
        est = np.asarray(model.project(dims).datavector(flatten=True))
        sd = np.sqrt(dlap_variance(scale))
        out.append((est, np.maximum(est - Z95 * sd, 0), est + Z95 * sd))
    return out, lambda keep: np.asarray(model.project(keep).datavector(flatten=True))


def compare(
    design: Design, plan: SummaryPlan, slices: Mapping, reps: Mapping[str, int]
) -> dict[str, dict]:
    """Per estimator: RMSE per cell of each table and margin, 95% coverage, s per fit."""
    months = [f"{YEAR}-{m:02d}" for m in range(1, 13)]
    tables = _tables(design, plan, slices, months)
    truth_margin = _from_tables(tables, [t[2] for t in tables])
    estimators: dict[str, Callable] = {
        "independent": independent,
        "reconciled": reconciled,
        "reconciled, unrounded": unrounded,
    }
    try:
        import mbi  # noqa: F401
    except ImportError:
        print("(mbi is not installed: pip install '.[bench]' for the graphical-model column)")
    else:
        estimators["mbi"] = graphical
    results = {}
    for name, fn in estimators.items():
        names = [t[4] for t in tables] + [" × ".join(m) or "total" for m in MARGINS]
        sq = dict.fromkeys(names, 0.0)
        hits = cells = 0
        seconds = 0.0
        for _ in range(reps[name]):
            noisy = _noisy(plan, tables, months)
            start = time.perf_counter()
            out, margin = fn(tables, noisy)
            seconds += time.perf_counter() - start
            for t, (est, lo, hi) in zip(tables, out, strict=True):
                sq[t[4]] += float(np.mean((np.asarray(est, float) - t[2]) ** 2))
                hits += int(np.sum((lo <= t[2]) & (t[2] <= hi)))
                cells += t[2].size
            for m in MARGINS:
                err = np.asarray(margin(m), float).reshape(-1) - truth_margin(m).reshape(-1)
                sq[" × ".join(m) or "total"] += float(np.mean(err**2))
        results[name] = {
            "rmse": {n: (v / reps[name]) ** 0.5 for n, v in sq.items()},
            "coverage": hits / cells,
            "seconds": seconds / reps[name],
        }
    return results
