"""The power of ``test_service_audit``'s tail-event audit, under the exact law of its pair.

The statistic the audit reads is the sum of two released counts, each with its own discrete
Laplace noise (``P(k) ∝ exp(-|k| / scale)``); the person shifts the sum by ``shift``. For a run
count and a pilot size this computes, with exact binomial sums (no sampling):

- the probability that the honest service (scale 2, shift 4, ε 2) fails the audit: a union
  over the events and both directions;
- the probability that each broken variant passes it: the multi-valued dimension's limit
  forgotten (scale 1, shift 4) and the person bound skipped (scale 2, shift 8); bounded by the
  best single event, whose threshold is the pilot's order statistic (its exact law too).

Suppression and rounding are left out: both only lower the released tail (a suppressed count
is never above a threshold) and rounding is post-processing. Run:
``python -m tests.api.audit_power 6000:2000 20000:4000`` (runs:pilot pairs).
"""

from __future__ import annotations

import math
import sys

import numpy as np
from scipy.stats import beta, binom

EPSILON = 2.0  # charged
ALPHA = (1 - 0.999) / (2 * 3)  # as the audit's Bonferroni: 3 events, both bounds
FRACTIONS = (0.95, 0.99, 0.997)  # the pilot's quantiles that fix the events
SUPPORT = 400  # of each noise, far beyond any tail that counts at these scales


def law(scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The values and probabilities of the sum of two discrete Laplace noises."""
    a = math.exp(-1 / scale)
    k = np.arange(-SUPPORT, SUPPORT + 1)
    one = (1 - a) / (1 + a) * a ** np.abs(k)
    return np.arange(-2 * SUPPORT, 2 * SUPPORT + 1), np.convolve(one, one)


def _bounds(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Clopper-Pearson lower and upper bounds for every count 0..n, as the audit takes them."""
    k = np.arange(n + 1)
    low, high = np.zeros(n + 1), np.ones(n + 1)
    low[1:] = beta.ppf(ALPHA, k[1:], n - k[1:] + 1)
    high[:-1] = beta.ppf(1 - ALPHA, k[:-1] + 1, n - k[:-1])
    return low, high


def _over(n: int, p1: float, p0: float, low: np.ndarray, high: np.ndarray) -> float:
    """P(log(low(k1) / high(k0)) > ε) for k1 ~ Bin(n, p1) and k0 ~ Bin(n, p0)."""
    k0 = np.arange(n + 1)
    weight = binom.pmf(k0, n, p0)
    keep = weight > 1e-30
    need = np.searchsorted(low, math.exp(EPSILON) * high[k0[keep]], side="right")
    return float((weight[keep] * binom.sf(need - 1, n, p1)).sum())


def audit(runs: int, pilot: int, scale: float, shift: int, honest: bool) -> float:
    """The honest variant's probability of failing, or a broken one's of passing."""
    values, law_ = law(scale)
    low, high = _bounds(runs)
    at_most = np.cumsum(law_)
    per_event = []
    for fraction in FRACTIONS:
        m = int(pilot * fraction)  # the threshold is sorted(pilot)[m]
        below = binom.sf(m, pilot, at_most)  # P(threshold <= value)
        chance = np.diff(np.concatenate([[0.0], below]))
        total = 0.0
        for i in np.flatnonzero(chance > 1e-18):
            p0 = law_[values > values[i]].sum()
            p1 = law_[values > values[i] - shift].sum()
            if honest:
                total += chance[i] * (
                    _over(runs, p1, p0, low, high) + _over(runs, p0, p1, low, high)
                )
            else:
                total += chance[i] * (1 - _over(runs, p1, p0, low, high))
        per_event.append(total)
    return sum(per_event) if honest else min(per_event)


def main(pairs: list[str]) -> None:
    for pair in pairs:
        runs, pilot = (int(x) for x in pair.split(":"))
        print(
            f"runs {runs}, pilot {pilot}: honest fails {audit(runs, pilot, 2, 4, True):.1e}; "
            f"limit forgotten passes {audit(runs, pilot, 1, 4, False):.1e}; "
            f"bound skipped passes {audit(runs, pilot, 2, 8, False):.1e}",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:] or ["6000:2000"])
