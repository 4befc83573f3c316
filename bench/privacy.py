"""Benchmark: a release (noise plus post-processing) against OpenDP's bare call.

The bare call invokes the vector discrete-Laplace measurement on the cells. Ours invokes the
same measurement and then clamps, suppresses, attaches intervals and builds the released
cells, for a table layout it has not seen before. Planning (solving the scale and the
measurement's privacy map) is a separate step, timed on its own.
Run: ``make bench`` or ``python -m bench.privacy``.
"""

from __future__ import annotations

import statistics
import time

from privacy import Axis, Epsilon, Plan, Policy, plan_release, release
from privacy.layout import layout_of

SIZES = {100: (10, 10), 8_100: (90, 90), 100_000: (250, 400)}
REPEATS = {100: 1000, 8_100: 30, 100_000: 7}


def _axes(shape: tuple[int, int]) -> list[Axis]:
    return [Axis(f"d{i}", tuple(f"c{j}" for j in range(n))) for i, n in enumerate(shape)]


def _plan(n: int) -> Plan:
    return plan_release(
        sensitivity=2,
        cells=n,
        epsilon=Epsilon.parse("0.1"),
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


if __name__ == "__main__":
    main()
