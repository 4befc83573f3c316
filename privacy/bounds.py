"""The intervals of a release, at any confidence, from what the release stored.

Intervals are post-processing: they read the noise scale, the public layout and the
release's own numbers, never the data, and draw no randomness. So a stored release can be
given intervals at another confidence later, free.

With probability at least ``confidence`` the noise of one cell is within ±h
(``cell_half_width``), and that of a total over m cells within ±h_m (``sum_half_width``,
from the exact distribution of the sum). Then:

- An unrounded item's interval is its *unclamped* noisy value ± h, clamped at 0. (For every
  released cell this value is its count: released cells are at or above a threshold of at
  least 1.)
- A rounded item's interval is derived from its *rounded* count c alone, so it says nothing
  the count does not: ``[max(0, c - H), c + H]`` with ``H = h + base // 2`` rounded up to
  the base. Rounding to the nearest multiple moves the count by at most ``base // 2``, so
  whenever the noise is within ±h the true value lies inside; where the noisy value was
  negative the count is 0 and the true value, at least 0, is below h. Coverage stays at least
  ``confidence``, and the bounds stay multiples of the base.
"""

from __future__ import annotations

import numpy as np

from privacy.accuracy import cell_half_width, sum_half_width
from privacy.errors import InvalidEpsilon


def check_confidence(confidence: float) -> None:
    """Refuse a confidence outside (0.5, 1), NaN included."""
    if not 0.5 < confidence < 1:
        raise InvalidEpsilon(
            "confidence must be greater than 0.5 and less than 1 (for example 0.95)",
            field="confidence",
        )


def half_widths(
    scale: float,
    n_cells: int,
    margins: tuple[tuple[tuple[int, ...], int, int], ...],
    confidence: float,
) -> np.ndarray:
    """Per item (cells, then each margin's totals): its noise's half-width at ``confidence``.

    ``margins`` lists, per set of summed axes, how many cells one of its totals covers and
    how many totals it has, in item order.
    """
    check_confidence(confidence)
    size = n_cells + sum(count for _, _, count in margins)
    width = np.full(size, cell_half_width(scale, confidence), dtype=np.int64)
    at = n_cells
    for _, covered, count in margins:
        width[at : at + count] = sum_half_width(scale, covered, confidence)
        at += count
    return width


def lower_upper(
    raw: np.ndarray, counts: np.ndarray, width: np.ndarray, rounding: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds per item (see the module docstring for why they cover).

    ``raw`` are the unclamped noisy values, ``counts`` the released counts (clamped, and
    rounded when ``rounding`` is set), ``width`` the half-widths from ``half_widths``.
    """
    if rounding:
        reach = -(-(width + rounding // 2) // rounding) * rounding
        return np.maximum(counts - reach, 0), counts + reach
    return np.maximum(raw - width, 0), np.maximum(raw + width, 0)
