"""An empirical privacy audit of the release pipeline.

Two neighbouring datasets differ in one person who contributes the maximum number of cases
(2, in one cell). For output events fixed in advance, a Clopper-Pearson lower bound on ε from
20,000 releases on each must not exceed the claimed ε. The same audit run on deliberately
broken variants must detect them, so the test is known to bite.
"""

import math

import pytest
from scipy.stats import beta

from privacy import Axis, Epsilon, Plan, Policy, plan_for_scale, plan_release, release

# By the exact binomial law of the events (scale 2; the events' true loss is exactly ε 1): the
# honest audit fails with probability 2.4e-6 a run; noise 25% too small (scale 1.5) and the
# ignored sensitivity (scale 1) are missed with probability below 1e-15; noise 10% too small
# would be missed 28% of the time, 20% too small 4e-11.
RUNS = 20_000
CONFIDENCE = 0.999
MAX_CASES = 2
TRUE = 100  # large enough that suppression and clamping play no part
CLAIMED = Epsilon.parse("1")
AXES = [Axis("complaint_type", ("A", "B"))]
POLICY = Policy()
# Events on the released count of cell A, fixed before sampling. D holds the person, D' not.
EVENTS = [
    ("count >= TRUE + MAX_CASES + 1", lambda c: c is not None and c >= TRUE + MAX_CASES + 1),
    ("count >= TRUE + MAX_CASES + 2", lambda c: c is not None and c >= TRUE + MAX_CASES + 2),
]


def _clopper_pearson(k, n, alpha):
    lower = beta.ppf(alpha, k, n - k + 1) if k > 0 else 0.0
    upper = beta.ppf(1 - alpha, k + 1, n - k) if k < n else 1.0
    return lower, upper


def _released_counts(plan: Plan, truth):
    return [release(plan, truth, AXES, POLICY).cells()[0].count for _ in range(RUNS)]


def audit_lower_bound(plan: Plan) -> float:
    with_person = _released_counts(plan, [TRUE + MAX_CASES, 50])
    without = _released_counts(plan, [TRUE, 50])
    alpha = (1 - CONFIDENCE) / (2 * len(EVENTS))  # Bonferroni over events and both bounds
    best = 0.0
    for _, event in EVENTS:
        k1 = sum(map(event, with_person))
        k0 = sum(map(event, without))
        p_low, _ = _clopper_pearson(k1, RUNS, alpha)
        _, q_high = _clopper_pearson(k0, RUNS, alpha)
        if p_low > 0 and q_high > 0:
            best = max(best, math.log(p_low / q_high))
    return best


def _honest_plan():
    return plan_release(
        sensitivity=MAX_CASES,
        cells=2,
        epsilon=CLAIMED,
        max_epsilon=Epsilon.parse("2"),
        max_cells=10,
    )


@pytest.mark.slow
def test_the_release_keeps_its_claimed_epsilon():
    plan = _honest_plan()
    assert plan.epsilon == CLAIMED
    assert audit_lower_bound(plan) <= CLAIMED.as_float()


@pytest.mark.slow
def test_the_audit_detects_noise_25_percent_too_small():
    honest = _honest_plan()
    broken = plan_for_scale(honest.scale * 0.75, sensitivity=MAX_CASES, cells=2, confidence=0.95)
    assert audit_lower_bound(broken) > CLAIMED.as_float()


@pytest.mark.slow
def test_the_audit_detects_sensitivity_ignored_for_a_person_with_several_cases():
    broken = plan_release(
        sensitivity=1, cells=2, epsilon=CLAIMED, max_epsilon=Epsilon.parse("2"), max_cells=10
    )
    assert audit_lower_bound(broken) > CLAIMED.as_float()
