"""Measuring a summary: the charge is the measurements' own maps, never above the ε asked."""

import random

import numpy as np
import pytest

from privacy import Epsilon, InvalidEpsilon, MalformedQuery
from privacy.split import by_sensitivity, equal, optimised, target_variance
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
    for _ in range(1000):
        noisy = measure_summary(plan, truth, sc.MONTHS)[("gender_type", "2024")]
        assert noisy.dtype == np.int64 and noisy.shape == (16,)
        diffs.append(noisy - 1000)
    p = np.exp(-1 / plan.scale("gender_type"))
    variance = 2 * p / (1 - p) ** 2
    # 16,000 noises of kurtosis 5.93: the ratio's SE is 0.0175, so 0.1 is 5.7 SE (at the old 300
    # releases it was 3.1 SE, 1 run in 500). A scale 25% off gives a ratio of 0.56 or 1.78.
    assert abs(np.var(diffs) / variance - 1) < 0.1
    with pytest.raises(MalformedQuery, match="does not match its table's cells"):
        measure_summary(plan, {("gender_type", "2024"): [1, 2]}, sc.MONTHS)
    with pytest.raises(MalformedQuery, match="nope 2024 is not a slice"):
        measure_summary(plan, {("nope", "2024"): [1]}, sc.MONTHS)


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
    with pytest.raises(MalformedQuery, match="time is given by its grain"):
        Design((TableSpec("t", (sc.GENDER, sc.GENDER), "year", 2),))
    with pytest.raises(MalformedQuery, match="distinct names"):
        Design((TableSpec("t", (), "year", 2), TableSpec("t", (), "month", 2)))
    with pytest.raises(MalformedQuery, match="time must be one of month, year"):
        TableSpec("t", (), "week", 2)
    with pytest.raises(MalformedQuery, match="one cell a year"):
        TableSpec("t", (sc.GENDER,), "year", 2, distinct_of=sc.COUNTRY)
    design = sc.design()
    with pytest.raises(MalformedQuery, match="budget weight for every table"):
        plan_summary(design, Epsilon.parse("1"), {"month": 1})
    with pytest.raises(InvalidEpsilon, match="positive"):
        plan_summary(design, Epsilon.parse("1"), {t.name: 0 for t in design.tables})
    with pytest.raises(InvalidEpsilon, match="would get no budget"):
        plan_summary(design, Epsilon(3), {t.name: 1 for t in design.tables})


def test_a_design_that_could_not_be_reconciled_is_refused_before_anything_is_measured():
    from privacy.layout import Axis

    a, b, c = (Axis(d, ("x", "y")) for d in "abc")
    with pytest.raises(MalformedQuery, match="form a cycle") as err:
        Design(
            (
                TableSpec("ab", (a, b), "year", 2),
                TableSpec("bc", (b, c), "year", 2),
                TableSpec("ca", (c, a), "year", 2),
            )
        )
    assert err.value.details["field"] == "tables"
    with pytest.raises(MalformedQuery, match="disagree on the codes of b"):
        Design(
            (TableSpec("ab", (a, b), "year", 2), TableSpec("b", (Axis("b", ("z",)),), "year", 2))
        )
    # Case-value tables are reconciled apart from case tables: no cycle runs through them.
    g = Axis("g", ("x", "y"))
    tables = (
        TableSpec("ab", (a, b), "year", 2),
        TableSpec("gb", (g, b), "year", 4),
        TableSpec("ga", (g, a), "year", 4),
    )
    Design(tables, frozenset({"g"}))


def test_a_cumulative_series_measures_only_its_new_slices_and_keeps_the_old():
    from privacy.derive import Summary
    from privacy.questions import Question

    design = sc.design()
    truth = sc.true_slices(sc.cases(), design)
    plan = plan_summary(design, Epsilon.parse("1"), {t.name: 1 for t in design.tables})
    charged = {name: p.epsilon for name, p in plan.plans.items()}
    scales = {k: p.scale for k, p in plan.plans.items()}
    first = sc.MONTHS[:22]  # a version covering January 2023 to October 2024
    stored = measure_summary(plan, {s: truth[s] for s in slices(design, first)}, first)
    assert ("gender_type", "2024") not in stored  # 2024 is not complete yet
    early = Summary(design, scales, stored, first, sc.ROLLUPS)
    months_2024 = early.answer(Question(("month",), months=sc.MONTHS[12:22]))
    with pytest.raises(MalformedQuery, match="no measured table holds gender in 2024"):
        early.answer(Question(("gender",), months=sc.MONTHS[12:22]))
    # Two monthly loads later: only the new slices are measured, and they cost nothing more.
    new = slices(design, sc.MONTHS, measured=stored)
    assert {s[1] for s in new} == {"2024-11", "2024-12", "2024"}
    assert extension_charge(plan, charged) == Epsilon(0)
    stored |= measure_summary(plan, {s: truth[s] for s in new}, sc.MONTHS, stored)
    later = Summary(design, scales, stored, sc.MONTHS, sc.ROLLUPS)
    assert np.array_equal(
        later.answer(Question(("year",), months=sc.MONTHS[:12])).shown,
        early.answer(Question(("year",), months=sc.MONTHS[:12])).shown,
    )  # a year already complete reads the very same stored slices
    assert later.answer(Question(("gender",), months=sc.MONTHS[12:])).shown.sum() == (
        later.answer(Question(("month",), months=sc.MONTHS[12:])).shown.sum()
    )
    assert len(months_2024.keys) == 10 and (months_2024.shown >= 0).all()


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


def test_a_period_is_measured_once_and_a_year_only_when_complete():
    design = sc.design()
    plan = plan_summary(design, Epsilon.parse("1"), {t.name: 1 for t in design.tables})
    truth = sc.true_slices(sc.cases(), design)
    stored = measure_summary(plan, {("month", "2024-01"): truth[("month", "2024-01")]}, sc.MONTHS)
    again = {("month", "2024-01"): truth[("month", "2024-01")], ("month", "2024-02"): [5]}
    with pytest.raises(MalformedQuery, match="month 2024-01 is not a slice") as err:
        measure_summary(plan, again, sc.MONTHS, measured=stored)
    assert err.value.details["field"] == "slices"
    with pytest.raises(MalformedQuery, match="gender_type 2024 is not a slice"):
        measure_summary(
            plan, {("gender_type", "2024"): truth[("gender_type", "2024")]}, sc.MONTHS[:20]
        )
    for bad in (["2024-13"], ["2024-1"], ["٢٠٢٤-01"], ["2024-01", "2024-01"]):
        with pytest.raises(MalformedQuery, match="distinct months written YYYY-MM"):
            slices(design, bad)
