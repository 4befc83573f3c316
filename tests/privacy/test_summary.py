"""Measuring a summary: the charge is the measurements' own maps, never above the ε asked."""

import random

import numpy as np
import pytest

from privacy import Epsilon, InvalidEpsilon, InvalidQuery
from privacy.summary import (
    Design,
    TableSpec,
    extension_charge,
    measure_summary,
    plan_summary,
    slices,
)
from tests.privacy import synthetic_cases as sc


def test_the_charge_is_the_sum_of_each_measurements_map_and_within_the_ask():
    rng = random.Random(12)
    design = sc.design()
    for _ in range(40):
        asked = Epsilon(rng.randint(50_000, 3_000_000))
        weights = {t.name: rng.uniform(0.05, 5) for t in design.tables}
        plan = plan_summary(design, asked, weights)
        maps = [
            Epsilon.from_float_ceil(plan.plans[t.name].measurement.map(t.sensitivity))
            for t in design.tables
        ]
        assert plan.epsilon == sum(maps, Epsilon(0))
        assert plan.epsilon <= asked
        assert asked.micro - plan.epsilon.micro <= len(design.tables)  # whole micro-ε lost
        share = weights["groups"] / sum(weights.values())
        assert plan.scale("groups") == pytest.approx(4 / (asked.as_float() * share), rel=1e-3)


def test_month_tables_slice_by_month_and_year_tables_by_complete_year():
    design = sc.design()
    months = [*sc.MONTHS, "2025-01", "2025-02"]
    got = slices(design, months)
    assert ("month", "2025-02") in got and ("month", "2023-01") in got
    assert ("gender_type", "2024") in got and ("gender_type", "2025") not in got
    assert len([s for s in got if s[0] == "month"]) == 26


def test_measurement_is_opendp_noise_of_the_planned_scale_over_the_given_cells():
    design = sc.design()
    plan = plan_summary(design, Epsilon.parse("2"), {t.name: 1 for t in design.tables})
    truth = {("gender_type", "2024"): [1000] * 16}
    diffs = []
    for _ in range(300):
        noisy = measure_summary(plan, truth)[("gender_type", "2024")]
        assert noisy.dtype == np.int64 and noisy.shape == (16,)
        diffs.append(noisy - 1000)
    p = np.exp(-1 / plan.scale("gender_type"))
    variance = 2 * p / (1 - p) ** 2
    assert abs(np.var(diffs) / variance - 1) < 0.1
    with pytest.raises(InvalidQuery, match="does not match its table's cells"):
        measure_summary(plan, {("gender_type", "2024"): [1, 2]})
    with pytest.raises(InvalidQuery, match="no table named"):
        measure_summary(plan, {("nope", "2024"): [1]})


def test_new_months_of_the_same_series_charge_nothing_more():
    design = sc.design()
    plan = plan_summary(design, Epsilon.parse("1"), {t.name: 1 for t in design.tables})
    charged = {name: p.epsilon for name, p in plan.plans.items()}
    assert extension_charge(plan, charged) == Epsilon(0)
    richer = plan_summary(
        design, Epsilon.parse("2"), {t.name: (3 if t.name == "month" else 1) for t in design.tables}
    )
    extra = extension_charge(richer, charged)
    expected = sum(
        (max(richer.plans[n].epsilon, charged[n]) - charged[n] for n in charged), Epsilon(0)
    )
    assert extra == expected and extra > Epsilon(0)
    assert extension_charge(plan, {}) == plan.epsilon  # a first publication charges it all


def test_bad_designs_and_splits_are_refused_with_the_reason():
    with pytest.raises(InvalidQuery, match="time is given by its grain"):
        Design((TableSpec("t", (sc.GENDER, sc.GENDER), "year", 2),))
    with pytest.raises(InvalidQuery, match="distinct names"):
        Design((TableSpec("t", (), "year", 2), TableSpec("t", (), "month", 2)))
    with pytest.raises(InvalidQuery, match="time must be one of month, year"):
        TableSpec("t", (), "week", 2)
    with pytest.raises(InvalidQuery, match="one cell a year"):
        TableSpec("t", (sc.GENDER,), "year", 2, distinct_of=sc.COUNTRY)
    design = sc.design()
    with pytest.raises(InvalidQuery, match="budget weight for every table"):
        plan_summary(design, Epsilon.parse("1"), {"month": 1})
    with pytest.raises(InvalidEpsilon, match="positive"):
        plan_summary(design, Epsilon.parse("1"), {t.name: 0 for t in design.tables})
    with pytest.raises(InvalidEpsilon, match="would get no budget"):
        plan_summary(design, Epsilon(3), {t.name: 1 for t in design.tables})
