"""Suppression decided on noisy values; totals never reveal a suppressed cell."""

import itertools
import math
import random

import numpy as np
import pytest

from privacy import TOTAL, Axis, Epsilon, Policy, plan_for_scale, postprocess, release

GENDER = Axis("gender", ("F", "M", "GM", "U"), frozenset({"GM"}))
YEAR = Axis("year", ("2023", "2024"))


def exact(truth, axes, policy, scale=1.0):
    """The post-processing of a release whose noise happened to be zero."""
    plan = plan_for_scale(scale, sensitivity=1, cells=len(truth), confidence=0.95)
    return postprocess(plan, np.asarray(truth, dtype=np.int64), axes, policy)


def test_true_eight_is_sometimes_released_and_sometimes_suppressed():
    scale = 2.0
    plan = plan_for_scale(scale, sensitivity=2, cells=1, confidence=0.95)
    axes = [Axis("type", ("A",))]
    runs = 3000
    suppressed = sum(release(plan, [8], axes, Policy()).cells()[0].suppressed for _ in range(runs))
    p = math.exp(-1 / scale)
    expected = 1 - p**2 / (1 + p)  # P[8 + noise < 10] = P[noise <= 1]
    sd = math.sqrt(expected * (1 - expected) / runs)
    assert 0 < suppressed < runs
    assert abs(suppressed / runs - expected) < 5 * sd


def test_sensitive_cells_and_sensitive_queries_use_the_higher_threshold():
    r = exact([15, 15, 15, 15, 15, 25, 30, 30], [GENDER, YEAR], Policy())
    by_key = {c.key: c for c in r.cells()}
    assert by_key[("F", "2023")].count == 15
    assert by_key[("GM", "2023")].suppressed
    assert by_key[("GM", "2023")].reason == "sensitive_threshold"
    assert by_key[("GM", "2024")].count == 25
    assert by_key[("U", "2024")].count == 30
    filtered = exact([15, 15], [YEAR], Policy(sensitive_query=True))
    assert [c.reason for c in filtered.cells()] == ["sensitive_threshold"] * 2


def test_a_suppressed_cell_shows_nothing_and_zero_looks_like_nine():
    r = exact([0, 9, 40], [Axis("t", ("A", "B", "C"))], Policy())
    a, b, c = r.cells()
    assert (a.count, a.lower, a.upper, a.reason) == (None, None, None, "below_threshold")
    assert (b.count, b.lower, b.upper, b.reason) == (None, None, None, "below_threshold")
    assert c.count == 40 and c.lower <= 40 <= c.upper


def test_clamping_and_rounding_on_the_exact_path():
    axes = [Axis("t", ("A", "B")), YEAR]
    r = exact([12, 13, 57, -3], axes, Policy(rounding=5, threshold=1, sensitive_threshold=1))
    counts = [c.count for c in r.cells()]
    assert counts == [10, 15, 55, None]  # -3 clamps to 0, below the threshold of 1
    for c in r.cells():
        if not c.suppressed:
            assert c.lower % 5 == 0 and c.upper % 5 == 0 and c.lower <= c.count <= c.upper


def test_totals_sum_the_unclamped_unrounded_noisy_cells():
    axes = [Axis("t", ("A", "B")), YEAR]
    r = exact(
        [40, 31, 57, -3], axes, Policy(rounding=5, threshold=0, sensitive_threshold=0, margins=True)
    )
    counts = {c.key: c.count for c in r.cells() + r.totals()}
    assert counts[("B", "2024")] == 0
    assert counts[("B", TOTAL)] == 55  # 57 - 3 = 54, then rounded
    assert counts[(TOTAL, "2024")] == 30  # 31 - 3 = 28, then rounded
    assert counts[(TOTAL, TOTAL)] == 125  # 125
    assert {c.total for c in r.totals()} == {True}


def _covers(total_key, cell_key):
    return all(t is TOTAL or t == c for t, c in zip(total_key, cell_key, strict=True))


def _finer(total_key, other_key):
    """other is one level finer: it fixes exactly one axis the total sums over."""
    diffs = [(t, o) for t, o in zip(total_key, other_key, strict=True) if t != o]
    return (
        len(diffs) == 1
        and diffs[0][0] is TOTAL
        and diffs[0][1] is not TOTAL
        and all(
            o == t
            for t, o in zip(total_key, other_key, strict=True)
            if t is not TOTAL or o is TOTAL
        )
    )


@pytest.mark.parametrize("seed", range(40))
def test_no_total_isolates_a_suppressed_cell(seed):
    rng = random.Random(seed)
    axes = [
        Axis(f"d{i}", tuple(f"c{j}" for j in range(rng.randint(1, 5))))
        for i in range(rng.randint(1, 3))
    ]
    n = math.prod(len(a.codes) for a in axes)
    truth = [rng.choice([0, 3, 8, 9, 11, 14, 25, 60, 200]) for _ in range(n)]
    r = exact(truth, axes, Policy(margins=True))
    cells, totals = r.cells(), r.totals()
    items = cells + totals
    assert len(totals) == math.prod(len(a.codes) + 1 for a in axes) - n
    for t in totals:
        if t.suppressed:
            continue
        covered = [c for c in cells if _covers(t.key, c.key)]
        assert sum(c.suppressed for c in covered) != 1, ("cells", t.key)
        finer = [o for o in items if _finer(t.key, o.key)]
        for axis in range(len(axes)):
            line = [o for o in finer if o.key[axis] != t.key[axis]]
            if line:
                assert sum(o.suppressed for o in line) != 1, ("totals", t.key, axis)


def test_complementary_suppression_hides_the_next_smallest_cell():
    axes = [Axis("t", ("A", "B", "C", "D"))]
    r = exact([5, 30, 40, 50], axes, Policy(margins=True))
    reasons = [c.reason for c in r.cells()]
    assert reasons == ["below_threshold", "complementary", None, None]
    (total,) = r.totals()
    assert total.count == 125


def test_released_cells_of_a_real_release_are_consistent():
    plan = plan_for_scale(5.0, sensitivity=2, cells=8, confidence=0.95)
    truth = [500, 12, 3, 40, 0, 9, 300, 25]
    r = release(plan, truth, [GENDER, YEAR], Policy(margins=True))
    for c in r.cells() + r.totals():
        assert c.suppressed == (c.count is None) == (c.reason is not None)
    assert plan.epsilon == Epsilon.from_float_ceil(plan.measurement.map(2))
    assert list(itertools.chain(r.keys[:8])) == [(g, y) for g in GENDER.codes for y in YEAR.codes]
