"""Budget split rules use the public design only; the optimised one lowers the targets' variance."""

import pytest

from privacy.split import by_sensitivity, equal, optimised, target_variance
from tests.privacy import synthetic_cases as sc

TARGETS = [((), 2.0), (("gender",), 1.0), (("vulnerable_group",), 1.0), (("month",), 0.5)]


def test_optimised_split_beats_equal_and_keeps_fixed_shares():
    design = sc.design()
    fixed = {"countries": 0.1}
    w = optimised(design, 1.0, TARGETS, fixed=fixed)
    assert sum(w.values()) == pytest.approx(1.0)
    assert w["countries"] == 0.1 and min(w.values()) >= 0.009
    even = {k: v * 0.9 / (len(w) - 1) for k, v in equal(design).items()} | fixed
    assert target_variance(design, w, 1.0, TARGETS) < 0.9 * target_variance(
        design, even, 1.0, TARGETS
    )


def test_simple_rules():
    design = sc.design()
    assert set(equal(design).values()) == {1.0}
    w = by_sensitivity(design)
    assert w["groups"] == pytest.approx(4 ** (2 / 3)) and w["month"] == pytest.approx(2 ** (2 / 3))


def test_more_budget_means_less_variance_and_bad_fixed_shares_are_refused():
    design = sc.design()
    w = equal(design)
    assert target_variance(design, w, 2.0, TARGETS) < target_variance(design, w, 1.0, TARGETS)
    with pytest.raises(ValueError, match="leave some budget"):
        optimised(design, 1.0, TARGETS, fixed={"countries": 1.0})
