import random

import pytest

from privacy import (
    Epsilon,
    EpsilonAboveMaximum,
    InvalidEpsilon,
    MarginUnreachable,
    TooManyCells,
    cell_half_width,
    l1_sensitivity,
    plan_release,
)

MAX = Epsilon.parse("1")


def test_sensitivity_multiplies_grouped_multi_valued_limits():
    limits = {"vulnerable_group": 2, "referral": 3}
    assert l1_sensitivity(2, limits, ["gender", "year"]) == 2
    assert l1_sensitivity(2, limits, ["vulnerable_group"]) == 4
    assert l1_sensitivity(2, limits, ["referral", "vulnerable_group", "month"]) == 12
    assert l1_sensitivity(1, limits, ["referral", "referral"]) == 3


def test_charged_epsilon_is_the_measurements_own_map_and_exactly_what_was_asked():
    rng = random.Random(2024)
    for _ in range(300):
        sensitivity = rng.choice([1, 2, 3, 4, 6, 12])
        asked = Epsilon(rng.randint(1_000, 1_000_000))
        plan = plan_release(
            sensitivity=sensitivity,
            cells=rng.randint(1, 500),
            epsilon=asked,
            max_epsilon=MAX,
            max_cells=10_000,
        )
        assert plan.epsilon == Epsilon.from_float_ceil(plan.measurement.map(sensitivity))
        assert plan.epsilon == asked
        assert plan.margin_of_error == cell_half_width(plan.scale, 0.95)


def test_target_margin_solves_epsilon():
    plan = plan_release(sensitivity=2, cells=10, margin_of_error=50, max_epsilon=MAX, max_cells=100)
    assert plan.margin_of_error <= 50
    assert plan.epsilon == Epsilon.from_float_ceil(plan.measurement.map(2))
    tighter = plan_release(
        sensitivity=2, cells=10, margin_of_error=25, max_epsilon=MAX, max_cells=100
    )
    assert tighter.epsilon > plan.epsilon
    wider_confidence = plan_release(
        sensitivity=2, cells=10, margin_of_error=50, confidence=0.99, max_epsilon=MAX, max_cells=100
    )
    assert wider_confidence.epsilon > plan.epsilon


def test_refusals_name_the_problem():
    kw = {"sensitivity": 2, "cells": 10, "max_epsilon": Epsilon.parse("0.5"), "max_cells": 100}
    with pytest.raises(InvalidEpsilon, match="greater than 0"):
        plan_release(epsilon=Epsilon(0), **kw)
    with pytest.raises(EpsilonAboveMaximum, match=r"above the maximum per query, 0\.5") as exc:
        plan_release(epsilon=Epsilon.parse("0.6"), **kw)
    assert exc.value.code == "epsilon_above_maximum"
    with pytest.raises(MarginUnreachable, match="needs epsilon") as exc2:
        plan_release(margin_of_error=2, **kw)
    assert exc2.value.details["maximum"] == Epsilon.parse("0.5")
    with pytest.raises(TooManyCells, match="101 cells"):
        plan_release(epsilon=Epsilon.parse("0.1"), **{**kw, "cells": 101})
    with pytest.raises(InvalidEpsilon, match="exactly one"):
        plan_release(epsilon=Epsilon.parse("0.1"), margin_of_error=10, **kw)
    with pytest.raises(InvalidEpsilon, match="confidence"):
        plan_release(epsilon=Epsilon.parse("0.1"), confidence=1.5, **kw)


def test_plans_share_one_space_and_each_call_draws_fresh_noise():
    """The domain and metric are built once per process; each plan's measurement is its own
    (its scale, its map), and every call of it draws new noise: reusing a plan never reuses
    noise."""
    kw = {"sensitivity": 2, "cells": 500, "max_epsilon": MAX, "max_cells": 1_000}
    a = plan_release(epsilon=Epsilon.parse("0.1"), **kw)
    b = plan_release(epsilon=Epsilon.parse("0.2"), **kw)
    for plan in (a, b):
        assert str(plan.measurement.input_domain) == "VectorDomain(AtomDomain(T=i64))"
        assert str(plan.measurement.input_metric) == "L1Distance(i64)"
    assert a.scale == pytest.approx(2 * b.scale)
    assert Epsilon.from_float_ceil(a.measurement.map(2)) == Epsilon.parse("0.1")
    assert Epsilon.from_float_ceil(b.measurement.map(2)) == Epsilon.parse("0.2")
    zeros = [0] * 500
    first, second = a.measurement(zeros), a.measurement(zeros)
    assert first != second  # equal by chance with probability far below 1e-100
    assert a.measurement(zeros) != first
