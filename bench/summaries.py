"""Benchmark: summaries on the calibrated demo data (2017 to 2024, 20,020 cases).

1. Budget split rules for the default design, from the closed-form reconciled variances.
2. Estimators at equal ε (independent tables, weighted least squares, mbi): RMSE per cell,
   95% coverage over repeated measurements, time.
3. The annual report at total ε 1: every figure, its interval against the published value,
   the consistency equalities, and the time to publish.
4. Month × complaint type × gender for 2024: cells suppressed when queried directly at ε 0.3
   against the default summary's prediction at ε 1, and the coarser tables it proposes.
Run: ``python -m bench.summaries`` (needs ``pip install 'opendp[mbi]'`` for the mbi column).
"""

from __future__ import annotations

import time

import numpy as np

from api.summaries import templates
from bench import summary_data as data
from bench.annual_report import publish_report, report_coverage
from bench.summary_estimators import compare
from privacy import Epsilon, Policy, plan_release, release
from privacy.derive import Summary
from privacy.layout import Axis
from privacy.predict import coarser, predict
from privacy.questions import Question
from privacy.split import by_sensitivity, equal, optimised, target_variance
from privacy.summary import measure_summary, plan_summary

EPSILON = Epsilon.parse("1")
REPS = {"independent": 300, "reconciled": 300, "reconciled, unrounded": 300, "mbi": 100}
M24 = tuple(f"2024-{m:02d}" for m in range(1, 13))
SENSITIVE = {k: frozenset(v) for k, v in data.SENSITIVE.items()}
# The figures a general summary should serve best (the service's default template).
DEFAULT_TARGETS = templates.DEFAULT_TARGETS


def splits() -> dict[str, dict[str, float]]:
    design = data.default_design()
    rules = {
        "equal": equal(design),
        "by sensitivity": by_sensitivity(design),
        "optimised": optimised(design, 1.0, DEFAULT_TARGETS),
    }
    print("## Budget split (default design, ε 1): reconciled cell sd of each target")
    print("| target | " + " | ".join(rules) + " |\n|---|" + "---:|" * len(rules))
    for dims, _ in DEFAULT_TARGETS:
        row = [target_variance(design, w, 1.0, [(dims, 1.0)]) ** 0.5 for w in rules.values()]
        print(f"| {' × '.join(dims) or 'total'} | " + " | ".join(f"{v:.2f}" for v in row) + " |")
    row = [target_variance(design, w, 1.0, DEFAULT_TARGETS) for w in rules.values()]
    print("| sum of variances | " + " | ".join(f"{v:,.0f}" for v in row) + " |")
    for name, w in rules.items():
        total = sum(w.values())
        print(f"{name}: " + ", ".join(f"{k} {v / total:.3f}" for k, v in w.items()))
    return rules


def estimators(weights: dict[str, float], frame) -> None:
    design = data.default_design()
    plan = plan_summary(design, EPSILON, weights)
    truth = data.true_slices(frame, design)
    results = compare(design, plan, truth, REPS)
    names = list(next(iter(results.values()))["rmse"])
    print("\n## Estimators at equal ε 1 (default design, 2024 case tables; RMSE per cell)")
    print("| estimator | " + " | ".join(names) + " | coverage | s per fit |")
    print("|---|" + "---:|" * (len(names) + 2))
    for est, r in results.items():
        rmse = " | ".join(f"{r['rmse'][n]:.2f}" for n in names)
        print(f"| {est} | {rmse} | {r['coverage']:.1%} | {r['seconds']:.3f} |")


def suppression(weights: dict[str, float], frame) -> None:
    design = data.default_design()
    truth = data.true_slices(frame, design)
    q = Question(("month", "complaint_type", "gender"), months=M24)
    axes = [data.axis("complaint_type"), data.axis("gender")]
    cells = np.stack([truth[("gender_type_month", m)] for m in M24])  # month × (gender, type)
    cells = cells.reshape(12, 4, 12).transpose(0, 2, 1)
    month_axis = Axis("month", M24)
    direct = plan_release(
        sensitivity=2, cells=576, epsilon=Epsilon.parse("0.3"), max_epsilon=EPSILON, max_cells=10**4
    )
    shares = []
    for _ in range(20):
        r = release(direct, cells.reshape(-1).tolist(), [month_axis, *axes], Policy())
        shares.append(float(np.mean(r.reasons != 0)))
    print("\n## Month × complaint type × gender, 2024 (576 cells)")
    under = float(np.mean(cells < np.array([10, 10, 20, 10])))  # GM's threshold is 20
    print(f"true counts under the threshold (no noise at all): {under:.1%}")
    print(f"direct query at ε 0.3: {np.mean(shares):.1%} of cells suppressed (mean of 20)")
    found = []
    for _ in range(5):
        plan = plan_summary(design, EPSILON, weights)
        noisy = measure_summary(plan, truth, data.MONTHS)
        scales = {k: p.scale for k, p in plan.plans.items()}
        summary = Summary(design, scales, noisy, data.MONTHS, data.rollups())
        p = predict(summary.answer(q), q, Policy(), SENSITIVE)
        found.append(p.share)
    print(f"default summary at ε 1, predicted: {np.mean(found):.1%} suppressed (mean of 5)")
    rolls = {"complaint_type": ["complaint_group"]}
    for p in coarser(summary, q, Policy(), SENSITIVE, rolls):
        print(f"  proposed {' × '.join(p.question.group_by)}: {p.cells} cells, {p.share:.0%}")


def main() -> None:
    frame = data.facts_frame()
    rules = splits()
    chosen = rules["optimised"]
    estimators(chosen, frame)
    suppression(chosen, frame)
    start = time.perf_counter()
    design = data.default_design()
    plan = plan_summary(design, EPSILON, chosen)
    noisy = measure_summary(plan, data.true_slices(frame, design), data.MONTHS)
    scales = {k: p.scale for k, p in plan.plans.items()}
    Summary(design, scales, noisy, data.MONTHS, data.rollups())
    print(f"\npublish the default summary: {time.perf_counter() - start:.2f} s, ", end="")
    print(f"{sum(v.size for v in noisy.values()):,} noisy cells, charged ε {plan.epsilon}")
    publish_report(frame)
    report_coverage(frame, 200)


if __name__ == "__main__":
    main()
