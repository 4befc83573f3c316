"""The helpline's 2024 annual report from one summary at total ε 1 (issue 12 §4).

The template and the figures (the service owns them: ``api.summaries.templates`` and
``api.summaries.report``): four marginal tables and one
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

from api.summaries import report, templates
from bench import summary_data as data
from privacy import Epsilon
from privacy.derive import Summary
from privacy.split import optimised
from privacy.summary import measure_summary, plan_summary

COUNTRIES_SHARE = templates.COUNTRIES_SHARE
TARGETS = templates.REPORT_TARGETS
YEAR = 2024
PUBLISHED = {  # DOMAIN.md, by the report's figure names; shares and changes as fractions
    "cases_year": 3171,
    "cases_since_start": 20020,
    "monthly_average": 264,
    "cyber_harassment": 2741,
    "cyber_harassment_fia_share": 0.36,
    "women": 1772,
    "women_share_ncii": 0.85,
    "women_share_iba_other": 0.81,
    "minors": 124,
    "minors_change": 0.51,
    "journalists": 121,
    "human_rights_defenders": 44,
    "religious_ethnic_minorities": 24,
    "countries": 25,
}


def _figures(s: Summary, conf: float = 0.95) -> dict[str, tuple]:
    return {f.name: (f.value, f.lower, f.upper) for f in report.figures(s, YEAR, conf)}


def consistency(s: Summary) -> list[tuple[str, bool]]:
    """Equalities that must hold exactly between the shown figures."""
    return report.consistency(s, YEAR)


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
    joint = report.SIMULTANEOUS
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
        if name == "minors_change":
            fmt = "{:+.0%}"
        interval = (
            f"{'-∞' if lo is None else fmt.format(lo)} to {'∞' if hi is None else fmt.format(hi)}"
        )
        print(f"| {name} | {fmt.format(value)} | {interval} | {fmt.format(pub)} | {holds} |")
    for name, ok in checks:
        print(f"- {name}: {'exact' if ok else 'BROKEN'}")
