"""Intervals for any linear combination of discrete-Laplace noises, from its exact law.

A reconciled estimate, a total, a change between periods: each is the true value plus a
weighted sum of the measurement noises, with weights known from the public design. Its
distribution is the convolution of those noises: computed here on a fine grid by FFT,
the few largest terms exactly (each term: ``count`` equal weights on noises of one scale,
whose sum has an exact integer law) and a remainder of small terms as a normal. The grid
rounding moves each term by at most half a step, which is added to the half-width, so the
interval never claims more confidence than it has. A term too wide for a bounded grid (a
huge scale: a tiny ε) sums its noises each read in bins of a few whole numbers, exactly,
and adds what the bins may move them (at most count × the bins' half-width, a few percent
of the half-width unless a term has thousands of noises). So time and memory stay bounded
on every scale (at most ~2^18 points a term). No randomness: arithmetic on public scales.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np

Term = tuple[float, int, float]  # weight, how many noises carry it, their scale
EXACT_TERMS = 12
REMAINDER_SHARE = 0.01  # terms beyond the largest, while their variance stays under this share
MAX_REACH = 1 << 17  # a term's law spans at most about twice this many points


def dlap_variance(scale: float) -> float:
    """Variance of OpenDP's discrete Laplace noise of ``scale``."""
    if scale == 0:
        return 0.0
    p = math.exp(-1.0 / scale)
    return 2.0 * p / math.expm1(-1.0 / scale) ** 2  # 1 - p, exact for huge scales


def terms(weighted: Iterable[tuple[float, np.ndarray]]) -> tuple[Term, ...]:
    """Group the weights of each scale's noises into terms of equal weight."""
    out: dict[tuple[float, float], int] = {}
    for scale, weights in weighted:
        rounded = np.round(np.asarray(weights, dtype=float), 12)
        values, counts = np.unique(rounded[rounded != 0], return_counts=True)
        for v, c in zip(values.tolist(), counts.tolist(), strict=True):
            out[(abs(v), scale)] = out.get((abs(v), scale), 0) + c  # the noise is symmetric
    return tuple(sorted(((w, c, s) for (w, s), c in out.items()), reverse=True))


def variance(ts: Sequence[Term]) -> float:
    return sum(w * w * c * dlap_variance(s) for w, c, s in ts)


@lru_cache(maxsize=8)  # up to ~2 MiB each: a worker's memory must not follow the asks
def _sum_pmf(count: int, scale: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Values and probabilities of the sum of ``count`` discrete-Laplace noises, and how far
    a value may lie from the sum it stands for (0 but on huge scales: see ``_binned``)."""
    p = math.exp(-1.0 / scale)
    sd = math.sqrt(count * dlap_variance(scale))
    reach = math.ceil(12.0 * sd + 40.0 * scale) + 1
    if reach > MAX_REACH:
        return _binned(count, scale, reach)
    n = 1 << (2 * reach + 1).bit_length()
    t = 2.0 * np.pi * np.arange(n) / n
    char = ((1.0 - p) ** 2 / (1.0 - 2.0 * p * np.cos(t) + p * p)) ** count
    pmf = np.clip(np.fft.ifft(char).real, 0.0, None)
    values = np.arange(-reach, reach + 1)
    return values, pmf[values % n], 0


def _binned(count: int, scale: float, reach: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The sum's law when each noise is read at the centre of its bin of ``width`` whole
    numbers (odd: centred on multiples of it), bin masses summed in closed form. Each noise
    moves by at most ``half`` = width // 2, so the sum by at most ``count * half``."""
    half = reach // MAX_REACH
    width = 2 * half + 1
    bins = -(-reach // width)
    j = np.arange(1, bins + 1, dtype=float)
    # P[X = k] = p^|k| (1 - p) / (1 + p); a bin from lo to lo + width - 1 sums to
    # p^lo (1 - p^width) / (1 + p).
    p = math.exp(-1.0 / scale)
    side = np.exp(-(j * width - half) / scale) * -math.expm1(-width / scale) / (1.0 + p)
    centre = (1.0 - p) / (1.0 + p) + 2.0 * p * -math.expm1(-half / scale) / (1.0 + p)
    one = np.concatenate([side[::-1], [centre], side])
    n = 1 << (2 * bins + 1).bit_length()
    grid = np.zeros(n)
    at = np.arange(-bins, bins + 1)
    grid[at % n] = one
    pmf = np.clip(np.fft.ifft(np.fft.fft(grid) ** count).real, 0.0, None)
    return at * width, pmf[at % n], count * half


@lru_cache(maxsize=4096)
def _half_width(ts: tuple[Term, ...], confidence: float) -> float:
    total = variance(ts)
    if total == 0:
        return 0.0
    exact: list[Term] = []
    rest = total
    for term in ts:
        part = variance([term])
        if len(exact) < EXACT_TERMS and (rest > REMAINDER_SHARE * total or not exact):
            exact.append(term)
            rest -= part
    rest = max(rest, 0.0)  # the subtractions may leave a float just below zero
    sd = math.sqrt(total)
    laws = []
    moved = 0.0  # how far the binned laws may put the noise from its value
    for w, c, s in exact:
        values, pmf, off = _sum_pmf(c, s)
        held = pmf > 1e-16  # beyond this the mass is far below any confidence asked
        laws.append((w, values[held], pmf[held]))
        moved += w * off
    reach = 12.0 * math.sqrt(rest) + sum(w * float(np.abs(v).max()) for w, v, _ in laws)
    # Fine enough that the added half steps stay small, coarse enough to stay bounded.
    step = max(0.01 * sd / len(exact), reach / (1 << 17))
    half = math.ceil(reach / step) + 1
    size = 1 << (2 * half + 1).bit_length()
    spectrum = np.ones(size // 2 + 1, dtype=complex)
    for w, values, pmf in laws:
        grid = np.bincount(np.rint(w * values / step).astype(np.int64) % size, pmf, size)
        spectrum *= np.fft.rfft(grid)
    if rest > 0:
        x = (np.arange(size) + size // 2) % size - size // 2
        normal = np.exp(-((x * step) ** 2) / (2.0 * rest))
        spectrum *= np.fft.rfft(normal / normal.sum())
    law = np.clip(np.fft.irfft(spectrum, size), 0.0, None)
    law /= law.sum()
    within = np.cumsum(np.concatenate([[law[0]], law[1 : size // 2] + law[: -size // 2 : -1]]))
    reached = np.flatnonzero(within >= confidence)
    if len(reached) == 0:  # a confidence closer to 1 than the grid's floats resolve
        return _union_bound(ts, confidence)
    return float(reached[0]) * step + len(exact) * step / 2 + moved


def _union_bound(ts: Sequence[Term], confidence: float) -> float:
    """A half-width that holds with ``confidence`` on any confidence below 1, wider than the
    exact law's: every one of the n noises within its k - 1, each failing with probability
    P[|X| >= k] = 2 p^k / (1 + p) at most (1 - confidence) / n."""
    n = sum(c for _, c, _ in ts)
    out = 0.0
    for w, c, s in ts:
        if s > 0:
            k = math.ceil(s * math.log(2.0 * n / ((1.0 + math.exp(-1.0 / s)) * (1 - confidence))))
            out += w * c * max(k - 1, 0)
    return out


def half_width(ts: Sequence[Term], confidence: float) -> float:
    """Smallest h (up to the grid's added half steps) with P[|noise| <= h] >= confidence."""
    if not 0 < confidence < 1:
        raise ValueError("confidence must lie strictly between 0 and 1")
    # Rounding the weights lets repeated designs share one computation.
    key = tuple((float(f"{w:.6g}"), c, s) for w, c, s in ts)
    return _half_width(key, confidence)
