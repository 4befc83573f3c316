"""The exact law of weighted discrete-Laplace noise: intervals that keep their confidence."""

import math

import numpy as np
import pytest

from privacy.accuracy import sum_half_width, within_probability
from privacy.noise_law import dlap_variance, half_width, terms, variance


def _dlap(rng, scale, size):
    """Discrete Laplace as a difference of two geometric variables (test-only sampler)."""
    p = 1 - math.exp(-1 / scale)
    return rng.geometric(p, size) - rng.geometric(p, size)


@pytest.mark.parametrize("scale", [0.7, 3.0, 20.0, 123.4])
def test_one_noise_matches_opendps_interval(scale):
    h = half_width([(1.0, 1, scale)], 0.95)
    exact = sum_half_width(scale, 1, 0.95)  # the smallest whole h, by the exact law
    assert exact <= h < exact + 1
    assert within_probability(scale, math.floor(h)) >= 0.95


@pytest.mark.parametrize(("scale", "m"), [(2.0, 10), (10.0, 100), (5.0, 1000)])
def test_a_sum_of_noises_matches_the_exact_sum_law(scale, m):
    h = half_width([(1.0, m, scale)], 0.95)
    exact = sum_half_width(scale, m, 0.95)
    assert exact <= h < exact + 1


def test_a_weighted_mixture_covers_as_claimed_and_barely_more():
    rng = np.random.default_rng(5)
    ts = [(0.9, 1, 5.0), (0.05, 300, 5.0), (0.02, 40, 10.0), (0.3, 3, 7.0)]
    h = half_width(ts, 0.95)
    n = 100_000
    x = 0.9 * _dlap(rng, 5.0, n)
    x += 0.05 * _dlap(rng, 5.0, (n, 300)).sum(axis=1)
    x += 0.02 * _dlap(rng, 10.0, (n, 40)).sum(axis=1)
    x += 0.3 * _dlap(rng, 7.0, (n, 3)).sum(axis=1)
    covered = np.mean(np.abs(x) <= h)
    assert 0.946 <= covered <= 0.958  # 0.0007 standard error
    assert abs(np.var(x) / variance(ts) - 1) < 0.02


def test_terms_group_equal_weights_per_scale_and_ignore_zeros():
    got = terms([(2.0, np.array([1.0, 1.0, 0.0, -1.0, 0.5])), (3.0, np.array([1.0]))])
    assert sorted(got) == [(0.5, 1, 2.0), (1.0, 1, 3.0), (1.0, 3, 2.0)]
    assert variance(got) == pytest.approx(
        0.25 * dlap_variance(2.0) + 3 * dlap_variance(2.0) + dlap_variance(3.0)
    )


def test_weights_scale_the_interval_and_confidence_widens_it():
    base = half_width([(1.0, 20, 4.0)], 0.9)
    assert half_width([(3.0, 20, 4.0)], 0.9) == pytest.approx(3 * base, rel=0.01)
    assert half_width([(1.0, 20, 4.0)], 0.99) > half_width([(1.0, 20, 4.0)], 0.95) > base
    assert half_width([], 0.95) == 0.0
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        half_width([(1.0, 1, 1.0)], 1.0)


@pytest.mark.parametrize(("scale", "m"), [(3_000.0, 1), (10_000.0, 4), (10_000.0, 10)])
def test_a_huge_scale_is_read_in_bins_and_stays_just_above_the_exact_law(scale, m, monkeypatch):
    from privacy import accuracy

    h = half_width([(1.0, m, scale)], 0.95)  # the law spans over 2^17 points: binned
    monkeypatch.setattr(accuracy, "MAX_POINTS", 1 << 24)  # the exact FFT, however large
    exact = sum_half_width.__wrapped__(scale, m, 0.95)
    assert exact <= h <= 1.01 * exact


def test_any_scale_and_any_confidence_below_one_give_a_finite_half_width():
    # A tiny ε: once 128 GiB of grid; a confidence a float below 1: once no interval found.
    assert 2.9e8 < half_width([(1.0, 1, 1e8)], 0.95) < 3.1e8
    top = math.nextafter(1.0, 0.0)
    h = half_width([(1.0, 1, 1.0)], top)
    assert math.isfinite(h) and h >= half_width([(1.0, 1, 1.0)], 1 - 1e-14)
    assert within_probability(1.0, math.floor(h)) >= 1 - 2e-16


def test_a_totals_half_width_is_bounded_on_any_scale_and_confidence():
    """A tiny ε (a huge scale) or a confidence next to 1 once took tens of seconds and
    gigabytes (8 s at scale 1e4, a MemoryError at 1e6) or raised: it runs after the read."""
    from privacy import accuracy

    s, m = 2000.0, 96  # just under the FFT grid's bound: exact, and the bounded way agrees
    exact = sum_half_width(s, m, 0.95)
    assert exact <= accuracy._bounded(s, m, 0.95) <= exact * 1.02
    for scale, cells in [(1e4, 96), (1e6, 4608), (1e8, 10_000)]:
        h = sum_half_width(scale, cells, 0.95)
        assert h >= 1.95 * math.sqrt(cells * dlap_variance(scale))  # at least the normal's
    top = sum_half_width(2.0, 8, math.nextafter(1.0, 0.0))
    assert top > sum_half_width(2.0, 8, 1 - 1e-12)
