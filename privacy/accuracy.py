"""Half-widths of the intervals that come with every released number.

A cell carries OpenDP's discrete-Laplace accuracy. A total is a sum of ``m`` independent
discrete-Laplace noises; its half-width comes from the exact distribution of that sum,
computed from the characteristic function by an inverse FFT while its grid stays small
(``MAX_POINTS``); past that (a tiny ε: a huge scale) or at a confidence closer to 1 than the
grid resolves, from ``noise_law``, whose bounded computation is as conservative (binned
exactly, or a union bound). So it takes bounded time and memory, and never raises, on every
scale and confidence.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from opendp.accuracy import discrete_laplacian_scale_to_accuracy

from privacy import noise_law

MAX_POINTS = 1 << 20  # the FFT grid's size at most (16 MiB of complex numbers)


@lru_cache(maxsize=1024)  # OpenDP's call costs about as much as post-processing a small table
def cell_half_width(scale: float, confidence: float) -> int:
    """Smallest whole h such that a cell's noise is within ±h with at least ``confidence``.

    OpenDP's accuracy ``a`` satisfies P[|noise| >= a] <= alpha, so ``floor(a)`` keeps the
    coverage for integer noise.
    """
    if scale == 0:
        return 0
    accuracy = float(discrete_laplacian_scale_to_accuracy(scale=scale, alpha=1 - confidence))
    return math.floor(accuracy)


def within_probability(scale: float, h: int) -> float:
    """P[|noise| <= h] for one discrete-Laplace noise (closed form)."""
    p = math.exp(-1.0 / scale)
    return 1.0 - 2.0 * p ** (h + 1) / (1.0 + p)


@lru_cache(maxsize=1024)
def sum_half_width(scale: float, m: int, confidence: float) -> int:
    """Smallest whole h with P[|sum of m noises| <= h] >= ``confidence``."""
    if m < 1:
        raise ValueError("a total covers at least one cell")
    if scale == 0:
        return 0
    p = math.exp(-1.0 / scale)
    sd = math.sqrt(m * 2.0 * p / (1.0 - p) ** 2)
    reach = math.ceil(14.0 * sd + 60.0 * scale) + 1
    n = 1 << (2 * reach + 1).bit_length()
    if n > MAX_POINTS:
        return _bounded(scale, m, confidence)
    t = 2.0 * np.pi * np.arange(n) / n
    char = ((1.0 - p) ** 2 / (1.0 - 2.0 * p * np.cos(t) + p * p)) ** m
    pmf = np.clip(np.fft.ifft(char).real, 0.0, None)
    within = pmf[0] + 2.0 * np.cumsum(pmf[1 : reach + 1])
    below = np.flatnonzero(within >= confidence)
    if len(below) == 0:  # a confidence closer to 1 than the cumulative sum resolves
        return _bounded(scale, m, confidence)
    return int(below[0]) + 1 if pmf[0] < confidence else 0


def _bounded(scale: float, m: int, confidence: float) -> int:
    """A whole half-width at least the exact one, in bounded time: ``noise_law``'s."""
    return math.ceil(noise_law.half_width(((1.0, m, scale),), confidence))
