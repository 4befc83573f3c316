"""Answers from a summary: exact without noise, consistent and covering with OpenDP noise."""

from collections import Counter

import numpy as np
import pytest

from privacy import Epsilon, MalformedQuery, Policy
from privacy.derive import Summary
from privacy.predict import coarser, predict
from privacy.questions import Question, quarter_of
from privacy.summary import measure_summary, plan_summary
from tests.privacy import synthetic_cases as sc

DATA = sc.cases()
DESIGN = sc.design()
TRUTH = sc.true_slices(DATA, DESIGN)
Y24 = sc.MONTHS[12:]


def _true(q: Question) -> dict:
    """Count the cases themselves (a multi-valued dimension counts each value held)."""
    months = np.array(sc.MONTHS)[DATA["month"]]
    codes = {a.dimension: a.codes for a in (sc.GENDER, sc.TYPE, sc.PROVINCE, sc.COUNTRY)}
    out: Counter = Counter()
    for i, month in enumerate(months):
        if q.months is not None and month not in q.months:
            continue
        value = {d: codes[d][DATA[d][i]] for d in codes}
        value |= {"month": month, "quarter": quarter_of(month), "year": month[:4]}
        value["complaint_group"] = sc.GROUP_OF[value["complaint_type"]]
        held = [c for c, h in zip(sc.GROUP.codes, DATA["vulnerable_group"][i], strict=True) if h]
        for group in held if "vulnerable_group" in q.group_by else [None]:
            value["vulnerable_group"] = group
            if all(value[d] in v for d, v in q.filters.items()):
                out[tuple(value[d] for d in q.group_by)] += 1
    return out


def _summary(scale_of=None, exact=False):
    plan = plan_summary(DESIGN, Epsilon.parse("1"), {t.name: 1 for t in DESIGN.tables})
    scales = {k: p.scale for k, p in plan.plans.items()}
    if exact:  # the true cells with a negligible noise variance: answers must be exact
        return Summary(DESIGN, {k: 0.05 for k in scales}, TRUTH, sc.MONTHS, sc.ROLLUPS)
    return Summary(DESIGN, scales, measure_summary(plan, TRUTH, sc.MONTHS), sc.MONTHS, sc.ROLLUPS)


QUESTIONS = [
    Question(("year",)),
    Question(()),
    Question(("quarter",), months=Y24),
    Question(("gender",), {"complaint_type": ("NCII",)}, Y24),
    Question(("month",), months=Y24[3:8]),
    Question(("province", "complaint_group")),
    Question(("complaint_type", "year"), {"complaint_group": ("CH",)}),
    Question(("vulnerable_group", "year")),
]


@pytest.mark.parametrize("q", QUESTIONS, ids=lambda q: "×".join(q.group_by) or "total")
def test_without_noise_every_answer_is_the_true_table(q):
    answer = _summary(exact=True).answer(q)
    truth = _true(q)
    assert {k: int(v) for k, v in zip(answer.keys, answer.shown, strict=True) if v} == truth
    assert np.allclose(answer.value, [truth.get(k, 0) for k in answer.keys])


@pytest.mark.parametrize("seed", range(4))
def test_with_noise_answers_are_whole_and_add_up_exactly(seed):
    s = _summary()
    total = s.answer(Question((), months=Y24)).shown
    for q in [
        Question(("month",), months=Y24),
        Question(("quarter",), months=Y24),
        Question(("gender",), months=Y24),
        Question(("complaint_group", "gender"), months=Y24),
        Question(("province",), months=Y24),
    ]:
        a = s.answer(q)
        assert a.shown.dtype.kind == "i" and (a.shown >= 0).all()
        assert (a.lower <= a.shown).all() and (a.shown <= a.upper).all()
        assert a.shown.sum() == total[0], q
    years = s.answer(Question(("year",))).shown
    assert years.sum() == s.answer(Question(())).shown[0]
    by_type = dict(
        zip(
            s.answer(Question(("complaint_type",))).keys,
            s.answer(Question(("complaint_type",))).shown,
            strict=True,
        )
    )
    ch = s.answer(Question(("complaint_group",), {"complaint_group": ("CH",)})).shown[0]
    assert ch == sum(by_type[(t,)] for t, g in sc.GROUP_OF.items() if g == "CH")


def test_count_intervals_cover_the_truth():
    questions = [Question(("gender",), months=Y24), Question(("quarter",), months=Y24)]
    truths = [_true(q) for q in questions]
    hits = cells = 0
    # 500 releases: the mean coverage is about 0.957 with a standard error of 0.0033, so the
    # bounds sit 8 and 5 standard errors away (150 releases failed about once in 200 runs).
    for _ in range(500):
        s = _summary()
        for q, truth in zip(questions, truths, strict=True):
            a = s.answer(q)
            t = np.array([truth.get(k, 0) for k in a.keys])
            hits += int(((a.lower <= t) & (t <= a.upper)).sum())
            cells += len(t)
    assert 0.93 <= hits / cells <= 0.975


def test_questions_outside_the_summary_are_refused_naming_the_field():
    s = _summary()
    cases = [
        (Question(("gender", "province")), "group_by", "does not lie within one measured table"),
        (Question(("platform",)), "group_by", "holds no dimension platform"),
        (Question(("year",), months=("2022-12",)), "period", "within the months"),
        (Question(("gender",), {"gender": ("X",)}), "filters.values", "unknown codes for gender"),
        (Question(("month", "year")), "group_by", "at most one of month"),
        (Question(("gender",), {"year": ("2024",)}), "filters", "with the period"),
        (Question(("vulnerable_group", "month")), "group_by", "no measured table holds month"),
        (Question(("gender",), months=Y24[:5]), "group_by", "gender × month does not lie"),
        (Question(("complaint_type", "complaint_group")), "group_by", "one form of each"),
    ]
    for q, field, message in cases:
        with pytest.raises(MalformedQuery, match=message) as err:
            s.answer(q)
        assert err.value.details["field"] == field


def test_suppression_is_predicted_from_the_estimates_and_coarser_tables_proposed():
    s = _summary(exact=True)
    q = Question(("month", "complaint_type", "gender"), months=Y24)
    with pytest.raises(MalformedQuery):
        s.answer(q)  # month × type × gender is not within one measured table
    q = Question(("month", "gender"), {"complaint_type": ("NCII",)}, Y24)
    with pytest.raises(MalformedQuery):
        s.answer(q)
    q = Question(("complaint_type", "gender"), months=Y24)
    answer = s.answer(q)
    p = predict(answer, q, Policy(), {"gender": frozenset({"GM"})})
    expected = sum(
        v < (20 if k[1] == "GM" else 10) for k, v in zip(answer.keys, answer.shown, strict=True)
    )
    assert (p.cells, p.suppressed) == (16, expected) and expected >= 4
    found = coarser(
        s, q, Policy(), {"gender": frozenset({"GM"})}, {"complaint_type": ["complaint_group"]}
    )
    assert found and all(f.share <= found[-1].share for f in found[:1])
    assert {f.question.group_by for f in found} == {("complaint_group", "gender")}


def test_the_count_of_countries_is_its_own_noisy_cell_shown_in_its_public_range():
    exact = _summary(exact=True).distinct("countries", "2024")
    assert exact.shown == TRUTH[("countries", "2024")][0] == 4
    s = _summary()
    for year in ("2023", "2024"):
        c = s.distinct("countries", year)
        assert 0 <= c.shown <= len(sc.COUNTRY.codes)
        assert c.interval(0.95)[0] <= c.shown <= c.interval(0.95)[1]
    with pytest.raises(MalformedQuery, match="no count of codes named month"):
        s.distinct("month", "2024")
