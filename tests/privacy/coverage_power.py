"""The error rates of a coverage test (``test_ratios``, ``test_statistics``): of n releases,
the share whose interval holds the truth must lie in [0.93, 0.97]. With exact binomial sums
(no sampling) this prints, for each n:

- the false failure: the probability that intervals as good as measured (true coverage 0.950
  to 0.955) fail the test, a union over the test's statistics (3 unless told);
- the power: the probability that one statistic whose intervals are off (true coverage 0.92,
  0.925, 0.975 or 0.98) fails it.

Run: ``python -m tests.privacy.coverage_power 5000 4000`` (sizes; ``--statistics 2``).
"""

from __future__ import annotations

import math
import sys

from scipy.stats import binom

LOW, HIGH = 0.93, 0.97
GOOD = (0.950, 0.953, 0.955)
OFF = (0.92, 0.925, 0.975, 0.98)


def fails(n: int, coverage: float) -> float:
    """The probability that n releases of true ``coverage`` fall outside [LOW, HIGH]."""
    least, most = math.ceil(LOW * n - 1e-9), math.floor(HIGH * n + 1e-9)
    return float(binom.cdf(least - 1, n, coverage) + binom.sf(most, n, coverage))


def main(args: list[str]) -> None:
    statistics = 3
    if "--statistics" in args:
        at = args.index("--statistics")
        statistics = int(args[at + 1])
        del args[at : at + 2]
    for n in map(int, args):
        false = ", ".join(f"{p}: {min(1.0, statistics * fails(n, p)):.1e}" for p in GOOD)
        power = ", ".join(f"{p}: {fails(n, p):.3f}" for p in OFF)
        print(f"n={n}  false failure ({false})  power ({power})")


if __name__ == "__main__":
    main(sys.argv[1:])
