"""Exposure is decided exactly, and complementary suppression leaves nothing exposed."""

import math
from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from privacy import TOTAL, Axis, Policy, plan_for_scale, postprocess
from privacy.exposure import determined
from privacy.layout import layout_of
from tests.privacy import brute_force

PROPERTY = settings(max_examples=150, deadline=None, derandomize=True)


def _axes(sizes, sensitive=()):
    return tuple(
        Axis(f"d{i}", tuple(f"c{j}" for j in range(n)), frozenset(sensitive))
        for i, n in enumerate(sizes)
    )


def _exact(noisy, axes, policy):
    plan = plan_for_scale(1.0, sensitivity=1, cells=len(noisy), confidence=0.95)
    return postprocess(plan, np.asarray(noisy, dtype=np.int64), axes, policy)


sizes = st.lists(st.integers(2, 5), min_size=1, max_size=3)


@PROPERTY
@given(sizes=sizes, data=st.data())
def test_determined_matches_a_brute_force_solver(sizes, data):
    table = layout_of(_axes(sizes), True)
    share = data.draw(st.sampled_from([0.2, 0.5, 0.8, 1.0]))
    hidden = np.array(
        data.draw(st.lists(st.floats(0, 1), min_size=len(table.keys), max_size=len(table.keys))),
        dtype=float,
    )
    hidden = hidden < share
    found = set(np.flatnonzero(determined(hidden, table.lines)).tolist())
    n_cells = math.prod(sizes)
    assert found == brute_force.determined(table.keys, n_cells, hidden)


def test_determined_on_edge_patterns():
    for sizes in ([1], [1, 3], [2, 1, 2], [3, 3]):
        table = layout_of(_axes(sizes), True)
        n_items = len(table.keys)
        n_cells = math.prod(sizes)
        for hidden in (
            np.zeros(n_items, dtype=bool),
            np.ones(n_items, dtype=bool),
            np.arange(n_items) < n_cells,
            np.arange(n_items) >= n_cells,
            np.arange(n_items) % 2 == 0,
        ):
            found = set(np.flatnonzero(determined(hidden, table.lines)).tolist())
            assert found == brute_force.determined(table.keys, n_cells, hidden), (sizes, hidden)


BRIDGE = [
    [3, 4, 50, 60],
    [5, 2, 6, 70],
    [80, 90, 1, 7],
    [55, 65, 8, 2],
]  # two blocks of small cells, (0..1, 0..1) and (2..3, 2..3), joined by the bridge (1, 2)


def test_two_blocks_and_a_bridge():
    axes = _axes([4, 4])
    table = layout_of(axes, True)
    cells = np.array(BRIDGE)
    hidden = np.zeros(len(table.keys), dtype=bool)
    hidden[:16] = cells.reshape(-1) < 10
    # Every line holds two or more suppressed cells, so no single equation isolates one...
    assert (cells < 10).sum(axis=0).min() >= 2 and (cells < 10).sum(axis=1).min() >= 2
    # ...yet the released margins and cells pin the bridge: rows 0 and 1 minus columns 0, 1.
    rows, cols = cells.sum(axis=1), cells.sum(axis=0)
    solved = rows[0] + rows[1] - cols[0] - cols[1] + cells[2:, :2].sum() - cells[0, 2:].sum()
    assert solved - cells[1, 3] == 6
    assert set(np.flatnonzero(determined(hidden, table.lines)).tolist()) == {1 * 4 + 2}

    released = _exact(cells.reshape(-1), axes, Policy(margins=True))
    reasons = {c.key: c.reason for c in released.cells() + released.totals()}
    added = [k for k, r in reasons.items() if r == "complementary"]
    assert added == [("c0", "c2")]  # the smallest released cell on a line through the bridge
    assert not brute_force.determined(released.keys, 16, released.reasons != 0)


@PROPERTY
@given(sizes=sizes, data=st.data())
def test_after_complementary_no_suppressed_item_is_determined(sizes, data):
    n = math.prod(sizes)
    noisy = data.draw(st.lists(st.integers(-5, 60), min_size=n, max_size=n))
    sensitive = data.draw(st.sampled_from([(), ("c0",)]))
    policy = Policy(
        threshold=data.draw(st.sampled_from([1, 10, 25])),
        sensitive_threshold=25,
        sensitive_query=data.draw(st.booleans()),
        margins=True,
        rounding=data.draw(st.sampled_from([None, 5])),
    )
    axes = _axes(sizes, sensitive)
    first = _exact(noisy, axes, policy)
    hidden = first.reasons != 0
    assert not brute_force.determined(first.keys, n, hidden)
    # Deterministic, and complementary suppression only ever adds.
    again = _exact(noisy, axes, policy)
    assert np.array_equal(first.reasons, again.reasons)
    plain = _exact(noisy, axes, replace(policy, margins=False))
    assert np.all(hidden[:n] >= (plain.reasons != 0))


def test_a_tie_goes_to_the_earlier_position():
    released = _exact([5, 30, 30, 50], _axes([4]), Policy(margins=True))
    assert [c.reason for c in released.cells()] == [
        "below_threshold",
        "complementary",
        None,
        None,
    ]


def test_one_code_axes_and_a_single_cell():
    released = _exact([4], _axes([1]), Policy(margins=True))
    (cell,) = released.cells()
    (total,) = released.totals()
    assert cell.suppressed and total.suppressed and total.key == (TOTAL,)
