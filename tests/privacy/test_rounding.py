"""Shown counts are whole, never negative, and every shared margin agrees exactly."""

from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privacy import MalformedQuery
from privacy.layout import Axis
from privacy.reconcile import Fit, Measured
from privacy.rounding import junction_order, project_to_simplex, round_tables, round_to_totals

TREES = [
    [("a", "b", "c"), ("c", "d")],
    [("a", "b"), ("b", "c"), ("d", "b")],
    [("a",), ("b",), ("c", "d")],
    [("b", "a", "c"), ("a",), ("d", "a"), ("c", "b")],
]


def _margin(cells, dims, sizes, keep):
    grid = cells.reshape([sizes[d] for d in dims])
    summed = grid.sum(axis=tuple(i for i, d in enumerate(dims) if d not in keep))
    rest = [d for d in dims if d in keep]
    return np.transpose(summed, [rest.index(d) for d in keep]) if keep else summed


@settings(max_examples=60, deadline=None)
@given(
    tree=st.sampled_from(TREES),
    sizes=st.tuples(*[st.integers(2, 5)] * 4),
    seed=st.integers(0, 2**32 - 1),
    level=st.sampled_from([0.5, 3.0, 40.0]),
    from_total=st.booleans(),
)
def test_rounded_tables_are_whole_non_negative_and_agree(tree, sizes, seed, level, from_total):
    rng = np.random.default_rng(seed)
    size = dict(zip("abcd", sizes, strict=True))
    axes = {d: Axis(d, tuple(f"{d}{i}" for i in range(n))) for d, n in size.items()}
    tables = []
    for dims in tree:  # sparse, noisy, mutually inconsistent values: the hard case
        n = int(np.prod([size[d] for d in dims]))
        noisy = rng.poisson(level, size=n) + rng.integers(-6, 7, size=n)
        tables.append(Measured(tuple(axes[d] for d in dims), noisy, float(rng.uniform(1, 9))))
    fit = Fit(tables)
    shown = round_tables(fit, tree, from_total=from_total)
    for dims in tree:
        assert shown[dims].dtype.kind == "i" and (shown[dims] >= 0).all()
    totals = {int(shown[d].sum()) for d in tree}
    assert len(totals) == 1
    if from_total:
        assert totals == {max(0, round(float(fit.estimate(())[0])))}
    for x, y in combinations(tree, 2):
        common = [d for d in x if d in y]
        assert np.array_equal(
            _margin(shown[x], x, size, common), _margin(shown[y], y, size, common)
        ), (x, y)


def test_a_cycle_of_tables_is_refused_naming_them():
    with pytest.raises(MalformedQuery, match="form a cycle") as err:
        junction_order([("a", "b"), ("b", "c"), ("c", "a")])
    assert err.value.details["field"] == "tables"


def test_simplex_projection_and_rounding_keep_the_totals():
    rng = np.random.default_rng(3)
    values = rng.normal(2, 10, size=(200, 7))
    totals = rng.integers(0, 60, size=200)
    projected = project_to_simplex(values, totals.astype(float))
    assert (projected >= 0).all()
    assert np.allclose(projected.sum(axis=1), totals)
    whole = round_to_totals(values, totals)
    assert whole.dtype.kind == "i" and (whole >= 0).all()
    assert np.array_equal(whole.sum(axis=1), totals)
    assert np.abs(whole - projected).max() < 1  # each cell moves less than one case


def test_positive_estimates_that_already_add_up_are_only_rounded():
    values = np.array([[10.4, 20.6, 0.0], [1.5, 1.5, 2.0]])
    assert round_to_totals(values, np.array([31, 5])).tolist() == [[10, 21, 0], [2, 1, 2]]
