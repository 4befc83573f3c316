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
from privacy.intervals import dlap_variance, half_width, terms
from privacy.reconcile import Fit, Measured
from privacy.release import Axis
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
    for dims, axes, truth, _, name in tables:
        if MONTH in dims:
            n = len(months)
            grid = truth.reshape(-1, n)
            parts = measure_summary(plan, {(name, m): grid[:, i] for i, m in enumerate(months)})
            out.append(np.stack([parts[(name, m)] for m in months], axis=-1).reshape(-1))
        else:
            out.append(measure_summary(plan, {(name, YEAR): truth})[(name, YEAR)])
    return out


def independent(tables: list, noisy: list[np.ndarray]) -> list[tuple]:
    out = []
    for (_, _, _, scale, _), y in zip(tables, noisy, strict=True):
        h = cell_half_width(scale, 0.95)
        shown = np.maximum(y, 0)
        out.append((shown, np.maximum(y - h, 0), y + h))
    return out


def reconciled(tables: list, noisy: list[np.ndarray]) -> list[tuple]:
    fit = Fit(
        [Measured(axes, y, scale) for (_, axes, _, scale, _), y in zip(tables, noisy, strict=True)]
    )
    rounded = round_tables(fit, [t[0] for t in tables])
    out = []
    for dims, _, _, _, _ in tables:
        real = fit.estimate(dims)
        h = _reconciled_half_width(fit, dims)
        shown = rounded[dims]
        out.append((shown, np.maximum(np.minimum(real - h, shown), 0), np.maximum(real + h, shown)))
    return out


_HALF: dict = {}


def _reconciled_half_width(fit: Fit, dims: tuple[str, ...]) -> float:
    key = (dims, tuple(t.scale for t in fit.tables))
    if key not in _HALF:
        q = np.zeros(fit.size(dims))
        q[0] = 1.0  # every cell of a marginal has the same noise law
        weighted = [(t.scale, g) for t, g in fit.coefficients(dims, q)]
        _HALF[key] = half_width(terms(weighted), 0.95)
    return _HALF[key]


def graphical(tables: list, noisy: list[np.ndarray]) -> list[tuple]:
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
    return out


def compare(
    design: Design, plan: SummaryPlan, slices: Mapping, reps: Mapping[str, int]
) -> dict[str, dict]:
    """Per estimator: RMSE per cell of each table, 95% coverage, seconds per fit."""
    months = [f"{YEAR}-{m:02d}" for m in range(1, 13)]
    tables = _tables(design, plan, slices, months)
    estimators: dict[str, Callable] = {
        "independent": independent,
        "reconciled": reconciled,
        "mbi": graphical,
    }
    results = {}
    for name, fn in estimators.items():
        sq = [0.0] * len(tables)
        hits = cells = 0
        seconds = 0.0
        for _ in range(reps[name]):
            noisy = _noisy(plan, tables, months)
            start = time.perf_counter()
            out = fn(tables, noisy)
            seconds += time.perf_counter() - start
            for i, ((_, _, truth, _, _), (est, lo, hi)) in enumerate(zip(tables, out, strict=True)):
                sq[i] += float(np.mean((np.asarray(est, float) - truth) ** 2))
                hits += int(np.sum((lo <= truth) & (truth <= hi)))
                cells += truth.size
        results[name] = {
            "rmse": {t[4]: (s / reps[name]) ** 0.5 for t, s in zip(tables, sq, strict=True)},
            "coverage": hits / cells,
            "seconds": seconds / reps[name],
        }
    return results
