"""The closed-form reconciliation is the weighted least-squares fit, with exact variances."""

import numpy as np
import pytest

from privacy import MalformedQuery
from privacy.layout import Axis
from privacy.noise_law import dlap_variance
from privacy.reconcile import Fit, Measured

SIZES = {"a": 3, "b": 4, "c": 2}
AXES = {d: Axis(d, tuple(f"{d}{i}" for i in range(n))) for d, n in SIZES.items()}
DIMS = list(SIZES)


def _marginal_matrix(clique):
    """The 0/1 matrix that sums the full a × b × c table onto ``clique`` (in its order)."""
    rows = []
    for e in np.eye(int(np.prod(list(SIZES.values())))):
        grid = e.reshape(list(SIZES.values()))
        m = grid.sum(axis=tuple(i for i, d in enumerate(DIMS) if d not in clique))
        kept = [d for d in DIMS if d in clique]
        rows.append(np.transpose(m, [kept.index(d) for d in clique]).reshape(-1))
    return np.array(rows).T


@pytest.mark.parametrize("seed", range(5))
def test_estimates_variances_and_weights_match_brute_force_least_squares(seed):
    rng = np.random.default_rng(seed)
    cliques = [("a", "b"), ("b", "c"), ("a",), ("c", "a")]
    scales = rng.uniform(0.5, 8.0, size=len(cliques))
    tables, blocks, ys, ws = [], [], [], []
    for clique, scale in zip(cliques, scales, strict=True):
        m = _marginal_matrix(clique)
        y = rng.integers(-5, 40, size=m.shape[0]).astype(float)  # need not be consistent
        tables.append(Measured(tuple(AXES[d] for d in clique), y, float(scale)))
        blocks.append(m)
        ys.append(y)
        ws.append(np.full(len(y), 1 / dlap_variance(scale)))
    design = np.vstack(blocks)
    weight = np.diag(np.concatenate(ws))
    gram_inv = np.linalg.pinv(design.T @ weight @ design)
    x_hat = gram_inv @ design.T @ weight @ np.concatenate(ys)
    fit = Fit(tables)
    for target in [(), ("a",), ("b", "a"), ("c",), ("a", "c")]:
        m = _marginal_matrix(target)
        assert np.allclose(fit.estimate(target), m @ x_hat)
        cov = m @ gram_inv @ m.T
        assert np.allclose(fit.cell_variance(target), np.diag(cov))
        q = rng.normal(size=m.shape[0])
        assert np.isclose(fit.variance(target, q), q @ cov @ q)
        # The estimate is linear in the noisy cells with exactly these weights.
        weights = fit.coefficients(target, q)
        assert np.isclose(sum(g @ t.noisy for t, g in weights), q @ fit.estimate(target))


def test_one_table_is_its_own_estimate():
    y = np.array([5, -2, 9, 0])
    fit = Fit([Measured((AXES["b"],), y, 3.0)])
    assert np.allclose(fit.estimate(["b"]), y)
    assert np.isclose(fit.cell_variance(["b"]), dlap_variance(3.0))
    assert np.isclose(fit.estimate([])[0], y.sum())


def test_consistent_data_is_returned_unchanged():
    rng = np.random.default_rng(7)
    full = rng.integers(0, 30, size=list(SIZES.values())).reshape(-1)
    cliques = [("a", "b"), ("b", "c")]
    tables = [Measured(tuple(AXES[d] for d in c), _marginal_matrix(c) @ full, 2.0) for c in cliques]
    fit = Fit(tables)
    assert np.allclose(fit.estimate(("b",)), _marginal_matrix(("b",)) @ full)
    assert np.allclose(fit.estimate(("c", "b")), _marginal_matrix(("c", "b")) @ full)


def test_a_marginal_outside_every_table_is_refused_by_name():
    fit = Fit(
        [
            Measured((AXES["a"], AXES["b"]), np.zeros(12), 1.0),
            Measured((AXES["c"],), np.zeros(2), 1.0),
        ]
    )
    with pytest.raises(MalformedQuery, match="a × c does not lie within one measured table"):
        fit.estimate(["a", "c"])
    with pytest.raises(MalformedQuery, match="no measured table holds d"):
        fit.estimate(["d"])


def test_tables_that_disagree_on_codes_or_shape_are_refused():
    other = Axis("a", ("x", "y", "z"))
    with pytest.raises(MalformedQuery, match="disagree on the codes of a"):
        Fit([Measured((AXES["a"],), np.zeros(3), 1.0), Measured((other,), np.zeros(3), 1.0)])
    with pytest.raises(MalformedQuery, match="do not match its axes"):
        Fit([Measured((AXES["a"],), np.zeros(4), 1.0)])
    with pytest.raises(MalformedQuery, match="scale"):
        Fit([Measured((AXES["a"],), np.zeros(3), 0.0)])
