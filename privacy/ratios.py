"""Counts, shares, changes and rates with intervals: post-processing of released noise.

A figure is linear in the measurement noise: its unbiased value, the whole number shown, and
the weight it puts on every measured cell's noise (``Linear``). Counts, differences and
rates per month are linear, so their intervals come from the exact law of that weighted
noise (``privacy.noise_law``). A share or a percent change is a ratio r = x / y; its interval
is Fieller's: every r with |x̂ - r ŷ| within the noise of x - r y, whose weights are known,
taking the multiplier at the estimate from the exact law rather than the normal one. Figures
from a summary and from a direct release (discrete Laplace of a known scale per cell) are
built the same way; no new randomness, nothing charged.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from privacy import noise_law

Noise = Mapping[Hashable, tuple[float, np.ndarray]]  # measured table -> (scale, weights)
RATIO_LIMIT = 1e12  # beyond it a ratio's denominator counts as zero for its multiplier


@dataclass(frozen=True)
class Linear:
    value: float  # unbiased estimate (noisy, unrounded)
    shown: int  # the whole number the release shows
    noise: Noise = field(repr=False)
    suppressed: bool = False
    counts: bool = True  # a count (never below zero), not a difference of counts

    def __add__(self, other: Linear) -> Linear:
        return self.combine(other, 1.0)

    def __sub__(self, other: Linear) -> Linear:
        return self.combine(other, -1.0)

    def combine(self, other: Linear, sign: float) -> Linear:
        noise = dict(self.noise)
        for key, (scale, w) in other.noise.items():
            noise[key] = (scale, noise[key][1] + sign * w) if key in noise else (scale, sign * w)
        return Linear(
            self.value + sign * other.value,
            self.shown + round(sign * other.shown),
            noise,
            self.suppressed or other.suppressed,
            self.counts and other.counts and sign > 0,
        )

    def variance(self) -> float:
        return sum(noise_law.dlap_variance(s) * float(w @ w) for s, w in self.noise.values())

    def half_width(self, confidence: float) -> float:
        weighted = [(s, w) for s, w in self.noise.values()]
        return noise_law.half_width(noise_law.terms(weighted), confidence)

    def interval(self, confidence: float) -> tuple[float, float]:
        """Holds the truth with ``confidence`` and always holds the shown number."""
        h = self.half_width(confidence)
        lo, hi = min(self.value - h, self.shown), max(self.value + h, self.shown)
        return (max(0.0, lo) if self.counts else lo), hi


def direct(noisy: Sequence[int], scale: float, weights: Sequence[float], key: Hashable) -> Linear:
    """A figure from a direct release: ``weights`` over its cells (1 for a cell or a sum)."""
    w = np.asarray(weights, dtype=float)
    value = float(w @ np.asarray(noisy, dtype=float))
    shown = round(float(w @ np.maximum(np.asarray(noisy), 0)))
    return Linear(value, shown, {key: (scale, w)})


def covariance(a: Linear, b: Linear) -> float:
    out = 0.0
    for key, (scale, w) in a.noise.items():
        if key in b.noise:
            out += noise_law.dlap_variance(scale) * float(w @ b.noise[key][1])
    return out


@dataclass(frozen=True)
class Ratio:
    value: float | None  # of the shown numbers; None when suppressed or undefined
    lower: float | None
    upper: float | None  # None: unbounded (the denominator may be zero)
    suppressed: bool


def _multiplier(x: Linear, y: Linear, r: float, confidence: float) -> float:
    """Half-width over standard deviation of the noise of x - r y, from its exact law."""
    pivot = x.combine(y, -r)
    sd = math.sqrt(pivot.variance())
    return pivot.half_width(confidence) / sd if sd > 0 else 0.0


def ratio(
    x: Linear, y: Linear, confidence: float, bounds: tuple[float, float] | None = None
) -> Ratio:
    """Fieller's interval for x / y, clipped to public ``bounds`` (a share lies in [0, 1])."""
    if x.suppressed or y.suppressed:
        return Ratio(None, None, None, True)
    shown = x.shown / y.shown if y.shown > 0 else None
    # The multiplier's law is taken at the estimate, rounded so that computations are shared;
    # at 0 when the denominator is next to nothing (a summary's estimate may be 1e-300: its
    # ratio would overflow the noise weights), where Fieller's interval is unbounded anyway.
    sane = y.value > 0 and abs(x.value) <= RATIO_LIMIT * y.value
    r0 = round(x.value / y.value, 2) if sane else 0.0
    k = _multiplier(x, y, r0, confidence)
    vx, vy, cxy = x.variance(), y.variance(), covariance(x, y)
    a = y.value**2 - k * k * vy
    b = -2.0 * (x.value * y.value - k * k * cxy)
    c = x.value**2 - k * k * vx
    disc = b * b - 4 * a * c
    lo: float | None
    hi: float | None
    if a > 0 and disc >= 0:
        lo, hi = (-b - math.sqrt(disc)) / (2 * a), (-b + math.sqrt(disc)) / (2 * a)
    else:  # the denominator's interval holds zero: no finite interval
        lo, hi = None, None
    if bounds is not None:
        lo = bounds[0] if lo is None else min(max(lo, bounds[0]), bounds[1])
        hi = bounds[1] if hi is None else max(min(hi, bounds[1]), bounds[0])
    if shown is not None:
        lo = None if lo is None else min(lo, shown)
        hi = None if hi is None else max(hi, shown)
    return Ratio(shown, lo, hi, False)


def share(part: Linear, whole: Linear, confidence: float) -> Ratio:
    """The part's share of a whole it belongs to; suppressed when either is suppressed (a
    shown share of a shown whole would give a suppressed part away)."""
    return ratio(part, whole, confidence, bounds=(0.0, 1.0))


def change(before: Linear, after: Linear, confidence: float) -> tuple[Linear, Ratio]:
    """The change in cases (linear) and in percent (Fieller on after / before, minus 1)."""
    diff = after - before
    r = ratio(after, before, confidence, bounds=(0.0, math.inf))

    def pct(v: float | None) -> float | None:
        return None if v is None or math.isinf(v) else 100.0 * (v - 1.0)

    return diff, Ratio(pct(r.value), pct(r.lower), pct(r.upper), r.suppressed)


def rate(total: Linear, months: int, confidence: float) -> tuple[float, float, float]:
    """Cases per month over ``months`` (public): the total and its interval divided by them."""
    if months < 1:
        raise ValueError("a rate needs at least one month")
    lo, hi = total.interval(confidence)
    return total.shown / months, lo / months, hi / months
