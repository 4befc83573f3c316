"""Costing a release before touching any data.

A plan fixes the noise scale, builds the OpenDP measurement once, and records the ε that the
measurement's own privacy map charges for the query's sensitivity. A plan can be shown to a
caller as an estimate; the release later reuses the very same measurement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from opendp.accuracy import accuracy_to_discrete_laplacian_scale
from opendp.domains import atom_domain, vector_domain
from opendp.measurements import make_laplace
from opendp.metrics import l1_distance

from privacy._features import assert_only_contrib
from privacy.accuracy import cell_half_width
from privacy.bounds import check_confidence
from privacy.canonical import MAX_MARGIN
from privacy.errors import EpsilonAboveMaximum, InvalidEpsilon, MarginUnreachable, TooManyCells
from privacy.loss import Epsilon

MECHANISM = "discrete Laplace (pure ε-DP), one vector measurement over every cell"
# A margin wider than this many cases says nothing about any helpline's counts; far beyond it
# the intervals no longer fit the 64-bit (and GraphQL's 32-bit) integers they are released in.
MAX_MARGIN_OF_ERROR = MAX_MARGIN


@dataclass(frozen=True)
class Plan:
    sensitivity: int
    cells: int
    scale: float
    epsilon: Epsilon  # what this release costs, from the measurement's privacy map
    confidence: float
    margin_of_error: int  # half-width of every cell's interval at ``confidence``
    measurement: Any = field(repr=False, compare=False)

    def at_confidence(self, confidence: float) -> Plan:
        """The same measurement, with intervals at another confidence (post-processing)."""
        return replace(
            self, confidence=confidence, margin_of_error=cell_half_width(self.scale, confidence)
        )


@cache
def _space() -> tuple[Any, Any]:
    """The histogram's input domain and metric. They are immutable (each constructor copies
    what it is given), so they are built once per process: building them cost more than the
    measurement over them, and a plan is made for every new ε."""
    return vector_domain(atom_domain(T="i64")), l1_distance(T="i64")


def _measurement(scale: float) -> Any:
    """The vector measurement at ``scale``. Each call of it draws fresh noise (OpenDP's
    sampler is a CSPRNG with no state kept in the measurement), so a plan's one measurement
    serves every release made from it."""
    assert_only_contrib()
    return make_laplace(*_space(), scale=scale)


def _plan(
    meas: Any,
    scale: float,
    sensitivity: int,
    cells: int,
    confidence: float,
    loss: float | None = None,
) -> Plan:
    return Plan(
        sensitivity=sensitivity,
        cells=cells,
        scale=scale,
        epsilon=Epsilon.from_float_ceil(meas.map(sensitivity) if loss is None else loss),
        confidence=confidence,
        margin_of_error=cell_half_width(scale, confidence),
        measurement=meas,
    )


def plan_for_scale(scale: float, *, sensitivity: int, cells: int, confidence: float) -> Plan:
    """The plan for a given noise scale; ε is whatever the measurement's map says."""
    if not (scale > 0 and math.isfinite(scale)):
        raise InvalidEpsilon("the noise scale must be positive and finite")
    return _plan(_measurement(scale), scale, sensitivity, cells, confidence)


def _for_epsilon(epsilon: Epsilon, sensitivity: int) -> tuple[float, Any, float]:
    """The smallest scale whose privacy map stays within ``epsilon``: scale, measurement, map."""
    target = epsilon.largest_float_within()
    # Start one step below the target so that the map's upward rounding rarely needs a retry.
    scale = math.nextafter(sensitivity / math.nextafter(target, 0.0), math.inf)
    for _ in range(64):
        meas = _measurement(scale)
        loss = meas.map(sensitivity)
        if loss <= target:
            return scale, meas, loss
        scale = math.nextafter(scale, math.inf)
    raise ArithmeticError("could not find a scale within the requested epsilon")


def plan_release(
    *,
    sensitivity: int,
    cells: int,
    max_epsilon: Epsilon,
    max_cells: int,
    epsilon: Epsilon | None = None,
    margin_of_error: float | None = None,
    confidence: float = 0.95,
) -> Plan:
    """Plan a histogram release from ε, or from a target margin of error (ε is solved)."""
    if (epsilon is None) == (margin_of_error is None):
        raise InvalidEpsilon("give exactly one of epsilon and margin_of_error", field="epsilon")
    check_confidence(confidence)
    if sensitivity < 1:
        raise ValueError("sensitivity must be at least 1")
    if cells > max_cells:
        raise TooManyCells(
            f"the query has {cells:,} cells; the most allowed is {max_cells:,}",
            cells=cells,
            max_cells=max_cells,
        )
    if epsilon is not None:
        if epsilon.micro <= 0:
            raise InvalidEpsilon(
                f"epsilon must be greater than 0 and at most {max_epsilon}",
                field="epsilon",
                valid=f"greater than 0, at most {max_epsilon}",
            )
        if epsilon > max_epsilon:
            raise EpsilonAboveMaximum(
                f"epsilon {epsilon} is above the maximum per query, {max_epsilon}",
                field="epsilon",
                requested=epsilon,
                maximum=max_epsilon,
            )
        scale, meas, loss = _for_epsilon(epsilon, sensitivity)
        return _plan(meas, scale, sensitivity, cells, confidence, loss)
    assert margin_of_error is not None
    if not 1 <= margin_of_error <= MAX_MARGIN_OF_ERROR:  # NaN fails too
        raise InvalidEpsilon(
            f"the margin of error must be a number of cases, from 1 to {MAX_MARGIN_OF_ERROR:,}",
            field="margin_of_error",
        )
    scale = accuracy_to_discrete_laplacian_scale(
        accuracy=float(margin_of_error), alpha=1 - confidence
    )
    plan = plan_for_scale(scale, sensitivity=sensitivity, cells=cells, confidence=confidence)
    if plan.epsilon > max_epsilon:
        raise MarginUnreachable(
            f"a margin of error of ±{margin_of_error:g} at {confidence:.0%} needs epsilon "
            f"{plan.epsilon}, above the maximum per query, {max_epsilon}",
            field="margin_of_error",
            needed=plan.epsilon,
            maximum=max_epsilon,
        )
    return plan
