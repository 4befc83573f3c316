"""Benchmark: a release (noise plus post-processing) against OpenDP's bare call.

The bare call invokes the vector discrete-Laplace measurement on the cells. Ours invokes the
same measurement and then clamps, suppresses, attaches intervals and builds the released
cells, for a table layout it has not seen before. Planning (solving the scale and the
measurement's privacy map) is a separate step, timed on its own.

A second table times releases with margins, where complementary suppression must check
exactly that no suppressed cell or total can be solved from the released ones. The counts
are drawn once (seeded) around the demo's calibrated 2024 figures (``DOMAIN.md``), released
at ε 0.3 with the default thresholds (10, and 20 for gender ``GM`` and age ``U18``); the
noise, and so the suppression pattern, differs in every run.
Run: ``make bench`` or ``python -m bench.privacy``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

from privacy import Axis, Epsilon, Plan, Policy, plan_release, release, suppression
from privacy.layout import layout_of

SIZES = {100: (10, 10), 8_100: (90, 90), 100_000: (250, 400)}
REPEATS = {100: 1000, 8_100: 30, 100_000: 7}


def _axes(shape: tuple[int, int]) -> list[Axis]:
    return [Axis(f"d{i}", tuple(f"c{j}" for j in range(n))) for i, n in enumerate(shape)]


def _plan(n: int, epsilon: str = "0.1") -> Plan:
    return plan_release(
        sensitivity=2,
        cells=n,
        epsilon=Epsilon.parse(epsilon),
        max_epsilon=Epsilon.parse("1"),
        max_cells=200_000,
    )


def ours(plan: Plan, counts: list[int], axes: list[Axis]) -> None:
    layout_of.cache_clear()  # a table layout not seen before, as for a new query
    release(plan, counts, axes, Policy()).cells()


def _medians_us(fns: list, repeats: int) -> list[float]:
    """Median time of each function, run interleaved so drift hits them alike."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, bucket in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - start)
    return [statistics.median(t) * 1e6 for t in times]


# 2024 cases by complaint type and gender (F, M, GM, U; GM+U split evenly), ages, years.
BY_TYPE_GENDER = np.array(
    [[360, 256, 2, 2], [357, 59, 2, 2], [211, 46, 2, 1], [215, 160, 3, 2], [170, 246, 2, 2],
     [85, 73, 1, 1], [80, 57, 2, 1], [90, 58, 1, 1], [95, 24, 1, 0], [36, 31, 2, 2],
     [60, 239, 1, 0], [13, 116, 1, 0]], dtype=float,
)  # fmt: skip
AGES = np.array([124, 1774, 640, 170, 33, 430]) / 3171  # U18, 18_30, 31_45, 46_60, 60P, UNK
YEARS = np.array([1551, 770, 2023, 3298, 4441, 2695, 2473, 3171]) / 3171  # 2017 to 2024
MONTHS = np.repeat(YEARS, 12) / 12


def _axis(name: str, n: int, sensitive: tuple[str, ...] = ()) -> Axis:
    return Axis(name, tuple(f"{name}{j}" for j in range(n)), frozenset(sensitive))


TYPE, GENDER, AGE = _axis("type", 12), _axis("gender", 4, ("gender2",)), _axis("age", 6, ("age0",))
MARGIN_CASES: dict[str, tuple[list[Axis], Callable[[], np.ndarray]]] = {
    "type × gender × age, 2024": (
        [TYPE, GENDER, AGE],
        lambda: BY_TYPE_GENDER[:, :, None] * AGES[None, None, :],
    ),
    "month × type, 2017-24": (
        [_axis("month", 96), TYPE],
        lambda: np.outer(MONTHS, BY_TYPE_GENDER.sum(1)),
    ),
    "month × type × gender, 2017-24": (
        [_axis("month", 96), TYPE, GENDER],
        lambda: MONTHS[:, None, None] * BY_TYPE_GENDER[None],
    ),
    "20 × 20 × 25, mean 6 (largest allowed)": (
        [_axis("a", 20), _axis("b", 20), _axis("c", 25)],
        lambda: np.full((20, 20, 25), 6.0),
    ),
}  # fmt: skip
MARGIN_REPEATS = 5


def margins() -> None:
    """Releases with margins: time, and how much was suppressed, medians over runs."""
    print(
        f"\n{'with margins, ε 0.3':<40} {'cells':>6} {'items':>6} {'small':>6} {'added':>6} "
        f"{'bare ms':>8} {'ours ms':>8}"
    )
    rng = np.random.default_rng(1)
    for name, (axes, mean) in MARGIN_CASES.items():
        truth = rng.poisson(mean()).reshape(-1).tolist()
        plan = _plan(len(truth), "0.3")
        policy = Policy(margins=True)
        bare, ours, small, added = [], [], [], []
        for _ in range(MARGIN_REPEATS):
            start = time.perf_counter()
            plan.measurement(truth)
            bare.append(time.perf_counter() - start)
            layout_of.cache_clear()
            start = time.perf_counter()
            r = release(plan, truth, axes, policy)
            r.cells(), r.totals()
            ours.append(time.perf_counter() - start)
            small.append(int(np.isin(r.reasons, [suppression.BELOW, suppression.SENSITIVE]).sum()))
            added.append(int((r.reasons == suppression.COMPLEMENTARY).sum()))
        med = statistics.median
        print(
            f"{name:<40} {len(truth):>6,} {len(r.keys):>6,} {med(small):>6.0f} {med(added):>6.0f} "
            f"{med(bare) * 1e3:>8.1f} {med(ours) * 1e3:>8.1f}"
        )


def main() -> None:
    print(f"{'cells':>8} {'bare µs/cell':>13} {'ours µs/cell':>13} {'ratio':>6} {'plan µs':>8}")
    for n, shape in SIZES.items():
        counts = [(i * 37) % 500 for i in range(n)]
        axes = _axes(shape)
        plan = _plan(n)
        b, o = _medians_us(
            [
                lambda c=counts, p=plan: p.measurement(c),
                lambda c=counts, a=axes, p=plan: ours(p, c, a),
            ],
            REPEATS[n],
        )
        (p,) = _medians_us([lambda n=n: _plan(n)], 50)
        print(f"{n:>8,} {b / n:>13.2f} {o / n:>13.2f} {o / b:>6.2f} {p:>8.0f}")
    margins()


if __name__ == "__main__":
    main()
