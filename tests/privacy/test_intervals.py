"""Intervals: rounded bounds say nothing beyond the rounded count, cover, and can be
re-derived at any confidence from what a release stored, without new noise."""

import math

import numpy as np
import pytest

from privacy import (
    Axis,
    Epsilon,
    InvalidEpsilon,
    Policy,
    decide,
    intervals,
    plan_for_scale,
    plan_release,
    postprocess,
    release,
)
from privacy.accuracy import cell_half_width, sum_half_width
from tests.privacy.brute_force import covers

ROUNDED = Policy(threshold=1, sensitive_threshold=1, margins=True, rounding=5)
TYPES = Axis("complaint_type", tuple(f"t{i}" for i in range(4)))
YEARS = Axis("year", ("2023", "2024"))


def _plan(scale=3.0, cells=8, confidence=0.95):
    return plan_for_scale(scale, sensitivity=2, cells=cells, confidence=confidence)


def test_a_rounded_items_bounds_are_a_function_of_its_rounded_count():
    # Every noisy value from 1 to 400 once, so many values share each rounded count.
    axes = [Axis("t", tuple(f"c{i}" for i in range(400)))]
    plan = _plan(cells=400)
    r = postprocess(plan, np.arange(1, 401), axes, ROUNDED)
    seen: dict[int, tuple[int, int]] = {}
    for c in r.cells():
        assert seen.setdefault(c.count, (c.lower, c.upper)) == (c.lower, c.upper), c
    reach = -(-(plan.margin_of_error + 2) // 5) * 5
    assert all(v == (max(0, k - reach), k + reach) for k, v in seen.items())
    # The leak this closes: 21 and 22 round to 20 and now get the same bounds, which the
    # bounds of raw ± width, rounded outward, did not (15..25 against 20..25 at width 3).
    assert seen[20] == (max(0, 20 - reach), 20 + reach)


def test_totals_bounds_are_a_function_of_their_rounded_count_too():
    plan = _plan(cells=8)
    by_count: dict[tuple, tuple[int, int]] = {}
    for shift in range(12):
        noisy = np.array([40, 31, 57, 12, 20, 33, 18, 44]) + shift
        r = postprocess(plan, noisy, [TYPES, YEARS], ROUNDED)
        for t in r.totals():
            covered = sum(k is None for k in t.key)
            key = (covered, t.key, t.count)
            assert by_count.setdefault(key, (t.lower, t.upper)) == (t.lower, t.upper)
    grand = next(t for t in r.totals() if t.key == (None, None))
    reach = -(-(sum_half_width(plan.scale, 8, 0.95) + 2) // 5) * 5
    assert (grand.lower, grand.upper) == (max(0, grand.count - reach), grand.count + reach)


@pytest.mark.parametrize(("epsilon", "confidence"), [("0.5", 0.95), ("2", 0.95), ("2", 0.7)])
def test_rounded_intervals_cover_over_2000_releases(epsilon, confidence):
    # At ε 2 the noise (scale 1) is small beside the base of 5: rounding's shift matters.
    truth = [23, 40, 61, 2, 97, 12, 150, 0]  # 2 and 0: noisy values below zero get clamped
    plan = plan_release(
        sensitivity=2,
        cells=8,
        epsilon=Epsilon.parse(epsilon),
        max_epsilon=Epsilon.parse("2"),
        max_cells=10,
        confidence=confidence,
    )
    everything = Policy(threshold=0, sensitive_threshold=0, margins=True, rounding=5)
    runs = 2000
    hits = np.zeros(2, dtype=np.int64)
    seen = np.zeros(2, dtype=np.int64)
    for _ in range(runs):
        r = release(plan, truth, [TYPES, YEARS], everything)
        for c in r.cells() + r.totals():
            value = sum(t for t, k in zip(truth, r.keys[:8], strict=True) if covers(c.key, k))
            hits[int(c.total)] += c.lower <= value <= c.upper
            seen[int(c.total)] += 1  # int: a bool index would be a mask
    assert seen.tolist() == [8 * runs, 7 * runs]  # each kind counted (hits[c.total] was a mask)
    # Rounding widens the bounds, so coverage is at least the confidence, within sampling
    # error (5 standard deviations of the pooled proportion), for cells and for totals.
    # Measured over 10,000 releases (SE at 2,000 from the per-release spread): ε 0.5 cells
    # 0.9841 ± 0.0010, totals 0.9731 ± 0.0017; ε 2 at 95% 0.9956 / 0.9989; every bound 18 SE or
    # more below the mean (no false failure to speak of).
    for h, n in zip(hits, seen, strict=True):
        sd = math.sqrt(confidence * (1 - confidence) / n)
        assert h / n >= confidence - 5 * sd, (h / n, confidence)


def test_intervals_at_another_confidence_from_the_stored_noisy_values():
    plan = _plan(cells=8)
    policy = Policy(threshold=15, margins=True)
    noisy = np.array([40, 31, 57, 12, 20, 33, 18, 44])
    first = postprocess(plan, noisy, [TYPES, YEARS], policy)
    later = first.at_confidence(0.8)
    assert np.array_equal(later.counts, first.counts)
    assert np.array_equal(later.reasons, first.reasons)
    assert later.plan.confidence == 0.8 and later.plan.epsilon == plan.epsilon
    assert later.plan.margin_of_error == cell_half_width(plan.scale, 0.8)
    fresh = postprocess(_plan(cells=8, confidence=0.8), first.noisy, [TYPES, YEARS], policy)
    lower, upper = intervals(plan.scale, [TYPES, YEARS], policy, first.noisy, 0.8)
    assert np.array_equal(later.lower, fresh.lower) and np.array_equal(later.upper, fresh.upper)
    assert np.array_equal(lower, fresh.lower) and np.array_equal(upper, fresh.upper)
    assert np.all(later.upper - later.lower <= first.upper - first.lower)
    assert np.any(later.upper - later.lower < first.upper - first.lower)
    assert "80%" in later.interpretation
    assert [c.count for c in later.cells()] == [c.count for c in first.cells()]


def test_rounded_intervals_at_another_confidence():
    plan = _plan(cells=8)
    noisy = np.array([40, 31, 57, 12, 20, 33, 18, 44])
    first = postprocess(plan, noisy, [TYPES, YEARS], ROUNDED)
    later = first.at_confidence(0.6)
    fresh = postprocess(_plan(cells=8, confidence=0.6), noisy, [TYPES, YEARS], ROUNDED)
    assert np.array_equal(later.lower, fresh.lower) and np.array_equal(later.upper, fresh.upper)
    assert np.all(later.lower % 5 == 0) and np.all(later.upper % 5 == 0)


def test_decide_matches_the_release_and_reads_no_plan():
    noisy = np.array([40, 3, 57, 12, 20, 33, 18, 44])
    raw, counts, reasons = decide(noisy, [TYPES, YEARS], ROUNDED)
    r = postprocess(_plan(cells=8), noisy, [TYPES, YEARS], ROUNDED)
    assert np.array_equal(counts, r.counts) and np.array_equal(reasons, r.reasons)
    assert np.array_equal(raw[:8], noisy) and np.array_equal(r.noisy, noisy)


@pytest.mark.parametrize("confidence", [0.5, 1.0, 1.2, float("nan"), -0.1])
def test_a_confidence_out_of_range_is_refused(confidence):
    r = postprocess(_plan(cells=8), np.arange(8), [TYPES, YEARS], ROUNDED)
    with pytest.raises(
        InvalidEpsilon, match=r"confidence must be greater than 0\.5 and less than 1"
    ):
        r.at_confidence(confidence)
    with pytest.raises(
        InvalidEpsilon, match=r"confidence must be greater than 0\.5 and less than 1"
    ):
        intervals(1.0, [TYPES, YEARS], ROUNDED, np.arange(8), confidence)
