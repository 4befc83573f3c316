"""The helpline's 2024 annual report from one summary at total ε 1 (issue 12 §4).

The template (the service owns it: ``api.summaries.templates``): four marginal tables and one
count (``summary_data.annual_report_design``), with the budget split optimised for the
report's figures. Each figure is shown with its 95% interval and the value the helpline
published (DOMAIN.md); the consistency equalities between figures are checked exactly.

"Countries with cases" is not a sum of counts: it is the number of country codes holding at
least one case in the year. One person adds or removes at most ``max_cases_per_person``
cases, each in one country, so the count moves by at most that much: it is measured as a
one-cell discrete-Laplace release with that sensitivity and shown clamped to [0, 27].
"""

from __future__ import annotations

import time

from api.summaries import templates
from bench import summary_data as data
from privacy import Epsilon
from privacy.derive import Summary
from privacy.questions import Question
from privacy.ratios import Linear, change, rate, share
from privacy.split import optimised
from privacy.summary import measure_summary, plan_summary

M23 = tuple(f"2023-{m:02d}" for m in range(1, 13))
M24 = tuple(f"2024-{m:02d}" for m in range(1, 13))
CH = {"complaint_group": ("CYBER_HARASSMENT",)}
COUNTRIES_SHARE = templates.COUNTRIES_SHARE
TARGETS = templates.REPORT_TARGETS
PUBLISHED = {  # DOMAIN.md; shares and changes as fractions
    "cases in 2024": 3171,
    "cases since the service began": 20020,
    "monthly average, 2024": 264,
    "cyber-harassment cases": 2741,
    "share of them from FIA cities": 0.36,
    "cases involving women": 1772,
    "women's share of NCII": 0.85,
    "women's share of other image-based abuse": 0.81,
    "cases involving minors": 124,
    "change in minors from 2023": 0.51,
    "journalists": 121,
    "human-rights defenders": 44,
    "religious and ethnic minorities": 24,
    "countries with cases": 25,
}


def _figures(s: Summary, conf: float = 0.95) -> dict[str, tuple]:
    def cell(group: tuple[str, ...], key: tuple[str, ...], months=M24, filters=None) -> Linear:
        return s.figure(Question(group, filters or {}, months), key)

    def count(x: Linear) -> tuple[float, float | None, float | None]:
        return (x.shown, *x.interval(conf))

    year = cell((), ())
    ch = cell(("complaint_group",), ("CYBER_HARASSMENT",))
    fia_yes = cell(("fia_city",), ("YES",), filters=CH)
    fia_known = fia_yes + cell(("fia_city",), ("NO",), filters=CH)
    ncii = {"complaint_type": ("NCII",)}
    iba = {"complaint_type": ("IBA_OTHER",)}
    vg = ("vulnerable_group",)
    minors = cell(vg, ("MINOR",))
    _, pct = change(cell(vg, ("MINOR",), M23), minors, conf)
    countries = s.distinct("countries", "2024")
    lo, hi = countries.interval(conf)
    out = {
        "cases in 2024": count(year),
        "cases since the service began": count(s.figure(Question(()), ())),
        "monthly average, 2024": rate(year, 12, conf),
        "cyber-harassment cases": count(ch),
        "share of them from FIA cities": _ratio(share(fia_yes, fia_known, conf)),
        "cases involving women": count(cell(("gender",), ("F",))),
        "women's share of NCII": _ratio(
            share(cell(("gender",), ("F",), filters=ncii), cell((), (), filters=ncii), conf)
        ),
        "women's share of other image-based abuse": _ratio(
            share(cell(("gender",), ("F",), filters=iba), cell((), (), filters=iba), conf)
        ),
        "cases involving minors": count(minors),
        "change in minors from 2023": tuple(
            None if v is None else v / 100 for v in (pct.value, pct.lower, pct.upper)
        ),
        "journalists": count(cell(vg, ("JOURNALIST",))),
        "human-rights defenders": count(cell(vg, ("HRD",))),
        "religious and ethnic minorities": count(
            cell(vg, ("RELIGIOUS_MINORITY",)) + cell(vg, ("ETHNIC_MINORITY",))
        ),
        "countries with cases": (countries.shown, lo, min(hi, 27)),
    }
    return out


def _ratio(r) -> tuple[float | None, float | None, float | None]:
    return r.value, r.lower, r.upper


def consistency(s: Summary) -> list[tuple[str, bool]]:
    """Equalities that must hold exactly between the shown figures."""
    total = int(s.answer(Question((), months=M24)).shown[0])
    by = {
        d: int(s.answer(Question((d,), months=M24)).shown.sum())
        for d in ("month", "gender", "complaint_type", "complaint_group", "fia_city")
    }
    years = s.answer(Question(("year",)))
    since = int(s.answer(Question(())).shown[0])
    ch = s.answer(Question(("fia_city",), CH, M24)).shown.sum()
    ch_total = s.answer(Question(("complaint_group",), {}, M24))
    quarters = s.answer(Question(("quarter",), months=M24)).shown.sum()
    checks = [(f"2024 total = sum over {d}", v == total) for d, v in by.items()]
    checks += [
        ("2024 total = sum of its quarters", quarters == total),
        ("since 2017 = sum of the years", int(years.shown.sum()) == since),
        (
            "cyber-harassment = sum over FIA city",
            int(ch) == int(ch_total.shown[ch_total.keys.index(("CYBER_HARASSMENT",))]),
        ),
    ]
    return checks


def _holds(name: str, lo, hi) -> bool:
    pub = PUBLISHED[name]
    return (lo is None or lo <= pub) and (hi is None or pub <= hi)


def report_coverage(frame, runs: int) -> None:
    """How often each figure's interval holds the published value, over many publications;
    at 95% each, and at the simultaneous level that holds all of them at once (Bonferroni)."""
    design = data.annual_report_design()
    weights = optimised(design, 1.0, TARGETS, fixed={"countries": COUNTRIES_SHARE})
    plan = plan_summary(design, Epsilon.parse("1"), weights)
    truth = data.true_slices(frame, design)
    scales = {k: p.scale for k, p in plan.plans.items()}
    joint = 1 - 0.05 / len(PUBLISHED)
    hits = {c: dict.fromkeys(PUBLISHED, 0) for c in (0.95, joint)}
    every = dict.fromkeys(hits, 0)
    for _ in range(runs):
        summary = Summary(
            design, scales, measure_summary(plan, truth, data.MONTHS), data.MONTHS, data.rollups()
        )
        for conf in hits:
            held = [_holds(n, lo, hi) for n, (_, lo, hi) in _figures(summary, conf).items()]
            for name, ok in zip(PUBLISHED, held, strict=True):
                hits[conf][name] += ok
            every[conf] += all(held)
    print(f"\n## Annual report over {runs} publications: share holding the published value")
    print(f"| figure | 95% each | {joint:.2%} each |\n|---|---:|---:|")
    for name in PUBLISHED:
        print(f"| {name} | {hits[0.95][name] / runs:.1%} | {hits[joint][name] / runs:.1%} |")
    print(f"| every figure at once | {every[0.95] / runs:.1%} | {every[joint] / runs:.1%} |")


def publish_report(frame) -> None:
    design = data.annual_report_design()
    start = time.perf_counter()
    weights = optimised(design, 1.0, TARGETS, fixed={"countries": COUNTRIES_SHARE})
    plan = plan_summary(design, Epsilon.parse("1"), weights)
    noisy = measure_summary(plan, data.true_slices(frame, design), data.MONTHS)
    scales = {k: p.scale for k, p in plan.plans.items()}
    summary = Summary(design, scales, noisy, data.MONTHS, data.rollups())
    figures = _figures(summary)
    checks = consistency(summary)
    seconds = time.perf_counter() - start
    print(f"\n## Annual report 2024 at total ε 1 (charged ε {plan.epsilon}, {seconds:.2f} s)")
    print("split: " + ", ".join(f"{k} {v:.3f}" for k, v in weights.items()))
    print("| figure | shown | 95% interval | published | holds |\n|---|---:|---:|---:|---|")
    for name, (value, lo, hi) in figures.items():
        pub = PUBLISHED[name]
        holds = _holds(name, lo, hi)
        fmt = "{:.1%}" if isinstance(pub, float) and pub < 1 else "{:,.0f}"
        if name == "change in minors from 2023":
            fmt = "{:+.0%}"
        interval = (
            f"{'-∞' if lo is None else fmt.format(lo)} to {'∞' if hi is None else fmt.format(hi)}"
        )
        print(f"| {name} | {fmt.format(value)} | {interval} | {fmt.format(pub)} | {holds} |")
    for name, ok in checks:
        print(f"- {name}: {'exact' if ok else 'BROKEN'}")
