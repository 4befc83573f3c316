"""Amaan's privacy guarantees, as a small pure library over OpenDP.

The privacy model in a few lines:

- Unit: one complainant. The ETL bounds each person to ``max_cases_per_person`` cases and each
  case to a fixed number of values per multi-valued dimension, so the L1 sensitivity of a
  histogram is known before any data is read (``l1_sensitivity``).
- Mechanism: pure ε-DP, OpenDP's vector discrete Laplace over every cell of a public key set
  at once; the ε charged is the measurement's own privacy map (``plan_release``).
- Everything after the noise is post-processing on noisy values: clamping, suppression,
  totals, complementary suppression until no suppressed number can be solved from released
  ones, rounding (``decide``), and intervals at any confidence (``intervals``).
- Privacy loss is an integer number of micro-ε (``Epsilon``); budgets never add floats.

OpenDP features are enabled here, in one place: ``contrib`` only.
"""

from privacy import _features

_features.enable()

from privacy.accuracy import cell_half_width, sum_half_width  # noqa: E402
from privacy.canonical import (  # noqa: E402
    CanonicalQuery,
    canonicalise,
    fold_label,
    parse_confidence,
    parse_margin,
)
from privacy.errors import (  # noqa: E402
    EpsilonAboveMaximum,
    InvalidEpsilon,
    MalformedQuery,
    MarginUnreachable,
    PrivacyError,
    TooManyCells,
)
from privacy.layout import TOTAL, Axis  # noqa: E402
from privacy.loss import ZERO, Epsilon  # noqa: E402
from privacy.plan import MECHANISM, Plan, plan_for_scale, plan_release  # noqa: E402
from privacy.release import (  # noqa: E402
    Cell,
    Policy,
    Release,
    decide,
    intervals,
    measure,
    postprocess,
    release,
)
from privacy.sensitivity import l1_sensitivity  # noqa: E402

__all__ = [
    "MECHANISM",
    "TOTAL",
    "ZERO",
    "Axis",
    "CanonicalQuery",
    "Cell",
    "Epsilon",
    "EpsilonAboveMaximum",
    "InvalidEpsilon",
    "MalformedQuery",
    "MarginUnreachable",
    "Plan",
    "Policy",
    "PrivacyError",
    "Release",
    "TooManyCells",
    "canonicalise",
    "cell_half_width",
    "decide",
    "fold_label",
    "intervals",
    "l1_sensitivity",
    "measure",
    "parse_confidence",
    "parse_margin",
    "plan_for_scale",
    "plan_release",
    "postprocess",
    "release",
    "sum_half_width",
]

# Summaries: measured once, reconciled, answered for free (issue 12).
from privacy.derive import Summary  # noqa: E402
from privacy.predict import Prediction, coarser, predict  # noqa: E402
from privacy.questions import Answer, Question, Rollup  # noqa: E402
from privacy.ratios import Linear, Ratio, change, direct, rate, ratio, share  # noqa: E402
from privacy.summary import (  # noqa: E402
    Design,
    SummaryPlan,
    TableSpec,
    extension_charge,
    measure_summary,
    plan_summary,
    slices,
)

__all__ += [
    "Answer",
    "Design",
    "Linear",
    "Prediction",
    "Question",
    "Ratio",
    "Rollup",
    "Summary",
    "SummaryPlan",
    "TableSpec",
    "change",
    "coarser",
    "direct",
    "extension_charge",
    "measure_summary",
    "plan_summary",
    "predict",
    "rate",
    "ratio",
    "share",
    "slices",
]
