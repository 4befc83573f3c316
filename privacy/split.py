"""How a summary's ε is split across its tables: rules that use the public design only.

- ``equal``: the same ε for every table.
- ``by_sensitivity``: ε in proportion to sensitivity^(2/3), which minimises the mean cell
  variance over the tables when each is read on its own (variance ∝ (sensitivity / ε)²).
- ``optimised``: the split that minimises the weighted variance of the reconciled figures
  that matter (``targets``: marginals with a weight), computed from the closed-form
  reconciliation of a year's tables; a multiplicative search on the simplex.

None of them reads data: the variances depend only on the axes, grains and scales.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from privacy.layout import Axis
from privacy.reconcile import Fit, Measured
from privacy.summary import MONTH, Design

Target = tuple[tuple[str, ...], float]  # a marginal of one year, and its weight


def equal(design: Design) -> dict[str, float]:
    return {t.name: 1.0 for t in design.tables}


def by_sensitivity(design: Design) -> dict[str, float]:
    return {t.name: float(t.sensitivity) ** (2 / 3) for t in design.tables}


def target_variance(
    design: Design, weights: Mapping[str, float], epsilon: float, targets: Sequence[Target]
) -> float:
    """Weighted cell variance of the targets for one complete year, at this split."""
    total = sum(weights.values())
    month = Axis(MONTH, tuple(f"m{i:02d}" for i in range(12)))
    universes: dict[frozenset[str], list[Measured]] = {}
    for t in design.tables:
        if t.distinct_of is not None:
            continue
        axes = (*t.axes, month) if t.time == MONTH else t.axes
        scale = t.sensitivity / (epsilon * weights[t.name] / total)
        cells = np.zeros(int(np.prod([len(a.codes) for a in axes])))
        u = frozenset(a.dimension for a in axes) & design.multi_valued
        universes.setdefault(u, []).append(Measured(axes, cells, scale))
    fits = {u: Fit(ts) for u, ts in universes.items()}
    out = 0.0
    for dims, weight in targets:
        fit = fits[frozenset(dims) & design.multi_valued]
        out += weight * fit.cell_variance(dims)
    return out


def optimised(
    design: Design,
    epsilon: float,
    targets: Sequence[Target],
    fixed: Mapping[str, float] | None = None,
    rounds: int = 60,
) -> dict[str, float]:
    """A split (weights summing to 1) that lowers the targets' variance; starts equal.

    ``fixed`` gives shares held as they are (a count of codes, which no target measures);
    every other table keeps at least 1% so that none is left without budget.
    """
    fixed = dict(fixed or {})
    names = [t.name for t in design.tables if t.name not in fixed]
    free = 1.0 - sum(fixed.values())
    if not names or not 0 < free <= 1:
        raise ValueError("the fixed shares must leave some budget to the other tables")
    w = np.full(len(names), 1.0 / len(names))

    def cost(v: np.ndarray) -> float:
        split = {**dict(zip(names, v * free, strict=True)), **fixed}
        return target_variance(design, split, epsilon, targets)

    best = cost(w)
    step = 0.5
    for _ in range(rounds):
        improved = False
        for i in range(len(names)):
            for factor in (1 + step, 1 / (1 + step)):
                trial = w.copy()
                trial[i] *= factor
                trial /= trial.sum()
                if trial.min() < 0.01:
                    continue
                c = cost(trial)
                if c < best:
                    w, best, improved = trial, c, True
        if not improved:
            step /= 2
            if step < 1e-3:
                break
    return {**dict(zip(names, (w * free).tolist(), strict=True)), **fixed}
