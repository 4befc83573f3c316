"""Releasing a histogram: one OpenDP measurement, then post-processing on noisy values only.

Post-processing costs no privacy and is split in two pure steps:

1. ``decide``: everything that depends on the noisy values: totals (sums of the unclamped
   noisy cells), counts clamped at zero, small-cell suppression (a stricter threshold for
   cells or queries that touch a sensitive value), complementary suppression until no
   suppressed item is exposed (``privacy.suppression``), rounding of counts.
2. ``intervals``: the bounds at a given confidence (``privacy.bounds``), from the noise
   scale, the public layout and the noisy values; no randomness, no data.

A suppressed cell carries no number and no interval, and its reason depends only on public
facts (its key and the query) and on noisy values.

**What to store to recompute a release.** The measurement's noisy cell values
(``Release.noisy``: unclamped integers, row-major over the axes), the plan's noise scale
(``Plan.scale``), the axes (codes and sensitive values) and the policy. From these,
``postprocess`` gives back the same counts and reasons, and ``intervals`` (or
``Release.at_confidence``) the bounds at any confidence. The noisy values themselves must
never be shown: they would bypass clamping, suppression and rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from itertools import repeat

import numpy as np

from privacy import bounds, suppression
from privacy.accuracy import cell_half_width
from privacy.errors import MalformedQuery
from privacy.layout import Axis, Layout, layout_of
from privacy.plan import MECHANISM, Plan

_REASON_NAMES = np.array([None, *(suppression.REASONS[k] for k in sorted(suppression.REASONS))])


@dataclass(frozen=True)
class Policy:
    threshold: int = 10
    sensitive_threshold: int = 20
    sensitive_query: bool = False  # a filter of the query names a sensitive value
    margins: bool = False
    rounding: int | None = None  # e.g. 5 for partner extracts


@dataclass(slots=True)
class Cell:
    """One released cell or total. A suppressed one has no count and no interval."""

    key: tuple[str | None, ...]
    count: int | None
    lower: int | None
    upper: int | None
    suppressed: bool
    reason: str | None
    total: bool = False


@dataclass(frozen=True)
class Release:
    """A released table: per item (cells, then totals) its count, bounds and reason.

    ``reasons`` is 0 for a released item, else a key of ``suppression.REASONS``; ``lower``
    and ``upper`` are at ``plan.confidence``. ``cells()`` and ``totals()`` give what may be
    shown; the arrays hold numbers for suppressed items too and must not be shown as such.
    """

    axes: tuple[Axis, ...]
    plan: Plan
    policy: Policy
    keys: tuple[tuple[str | None, ...], ...]
    counts: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    reasons: np.ndarray
    n_cells: int
    raw: np.ndarray  # unclamped noisy values, cells then totals; never shown

    @property
    def mechanism(self) -> str:
        return MECHANISM

    @property
    def noisy(self) -> np.ndarray:
        """The measurement's output: what a service stores to recompute this release."""
        return self.raw[: self.n_cells]

    def at_confidence(self, confidence: float) -> Release:
        """The same release with its intervals at another confidence (post-processing)."""
        table = layout_of(self.axes, self.policy.margins)
        lower, upper = _intervals(
            self.plan.scale, table, self.policy, self.raw, self.counts, confidence
        )
        plan = replace(
            self.plan,
            confidence=confidence,
            margin_of_error=cell_half_width(self.plan.scale, confidence),
        )
        return replace(self, plan=plan, lower=lower, upper=upper)

    @property
    def interpretation(self) -> str:
        return (
            f"With {self.plan.confidence:.0%} confidence, each count before noise lies between "
            "its lower and upper bound; totals are sums of noisy cells with their own intervals."
        )

    def cells(self) -> list[Cell]:
        return self._items(0, self.n_cells, total=False)

    def totals(self) -> list[Cell]:
        return self._items(self.n_cells, len(self.keys), total=True)

    def columns(self) -> dict[str, list[object]]:
        """What ``cells()`` then ``totals()`` show, as one list per field (no keys): a
        suppressed item has no count and no interval, as there."""
        hidden = self.reasons != 0

        def numbers(values: np.ndarray) -> list[object]:
            out = values.astype(object)
            out[hidden] = None
            return list(out.tolist())

        return {
            "count": numbers(self.counts),
            "lower": numbers(self.lower),
            "upper": numbers(self.upper),
            "suppressed": hidden.tolist(),
            "reason": _REASON_NAMES[self.reasons].tolist(),
            "total": [False] * self.n_cells + [True] * (len(self.keys) - self.n_cells),
        }

    def _items(self, start: int, stop: int, total: bool) -> list[Cell]:
        part = slice(start, stop)
        reasons = self.reasons[part]
        hidden = reasons != 0

        def numbers(values: np.ndarray) -> list[int | None]:
            out = values[part].astype(object)
            out[hidden] = None
            return list(out.tolist())

        return list(
            map(
                Cell,
                self.keys[part],
                numbers(self.counts),
                numbers(self.lower),
                numbers(self.upper),
                hidden.tolist(),
                _REASON_NAMES[reasons].tolist(),
                repeat(total, stop - start),
            )
        )


def release(
    plan: Plan, true_counts: Sequence[int] | np.ndarray, axes: Sequence[Axis], policy: Policy
) -> Release:
    """Run the plan's measurement over the true counts (row-major over ``axes``)."""
    shape = tuple(len(a.codes) for a in axes)
    if int(np.prod(shape)) != len(true_counts) or len(true_counts) != plan.cells:
        raise MalformedQuery("the counts do not match the key set the plan was made for")
    return postprocess(plan, measure(plan, true_counts), axes, policy)


# Vectors at least this long are noised in two halves on two threads (OpenDP's call releases
# the GIL); below it a second thread costs more than it saves.
SPLIT_AT = 2048
_second = ThreadPoolExecutor(max_workers=2, thread_name_prefix="amaan-noise")


def measure(plan: Plan, true_counts: Sequence[int] | np.ndarray) -> np.ndarray:
    """The plan's one OpenDP measurement over the true counts: the noisy cells.

    A long vector is passed to the same measurement in two halves at once. The discrete
    Laplace mechanism adds independent noise of the one scale to each coordinate, so the two
    outputs side by side have exactly the distribution of one call on the whole vector, and
    the privacy loss is the plan's (the measurement's map of the whole vector's L1 distance,
    which is the sum of the halves' distances)."""
    counts = np.ascontiguousarray(true_counts, dtype=np.int64)
    if len(counts) < SPLIT_AT:
        return np.asarray(plan.measurement(counts), dtype=np.int64)
    half = len(counts) // 2
    second = _second.submit(plan.measurement, counts[half:])
    first = plan.measurement(counts[:half])
    return np.concatenate(
        [np.asarray(first, dtype=np.int64), np.asarray(second.result(), dtype=np.int64)]
    )


def postprocess(plan: Plan, noisy: np.ndarray, axes: Sequence[Axis], policy: Policy) -> Release:
    """Everything after the noise. Reads only noisy values; public for the zero-noise tests."""
    table = layout_of(tuple(axes), policy.margins)
    raw, counts, reasons = _decide(table, np.array(noisy, dtype=np.int64), policy)
    lower, upper = _intervals(plan.scale, table, policy, raw, counts, plan.confidence)
    return Release(
        axes=tuple(axes),
        plan=plan,
        policy=policy,
        keys=table.keys,
        counts=counts,
        lower=lower,
        upper=upper,
        reasons=reasons,
        n_cells=len(noisy),
        raw=raw,
    )


def decide(
    noisy: np.ndarray, axes: Sequence[Axis], policy: Policy
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The noisy-dependent decisions, per item (cells then totals): raw, counts, reasons.

    ``raw`` are the unclamped noisy values (totals sum the unclamped cells), ``counts`` the
    released counts (clamped at 0, then rounded if the policy says so) and ``reasons`` 0
    for a released item, else a key of ``suppression.REASONS``.
    """
    table = layout_of(tuple(axes), policy.margins)
    return _decide(table, np.array(noisy, dtype=np.int64), policy)


def intervals(
    scale: float,
    axes: Sequence[Axis],
    policy: Policy,
    noisy: np.ndarray,
    confidence: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds per item at ``confidence``, from a stored release.

    ``noisy`` are the release's noisy cells (``Release.noisy``) and ``scale`` its plan's
    noise scale. Suppressed items get bounds here too; a caller must not show them.
    """
    table = layout_of(tuple(axes), policy.margins)
    raw = _raw(table, np.asarray(noisy, dtype=np.int64))
    counts = _counts(np.maximum(raw, 0), policy)
    return _intervals(scale, table, policy, raw, counts, confidence)


def _raw(table: Layout, noisy: np.ndarray) -> np.ndarray:
    if len(noisy) != int(np.prod(table.shape)):
        raise MalformedQuery("the noisy values do not match the table's key set")
    if not table.margins:
        return noisy
    grid = noisy.reshape(table.shape)
    sums = [grid.sum(axis=s, dtype=np.int64).reshape(-1) for s, _, _ in table.margins]
    return np.concatenate([noisy, *sums])


def _counts(clamped: np.ndarray, policy: Policy) -> np.ndarray:
    """The released counts: the clamped noisy values, rounded half up to the base if any."""
    if not policy.rounding:
        return clamped
    base = policy.rounding
    rounded: np.ndarray = (clamped + base // 2) // base * base
    return rounded


def _decide(
    table: Layout, noisy: np.ndarray, policy: Policy
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    raw = _raw(table, noisy)
    clamped: np.ndarray = np.maximum(raw, 0)
    touch = table.sensitive | policy.sensitive_query
    reasons = np.where(
        touch,
        np.where(clamped < policy.sensitive_threshold, suppression.SENSITIVE, 0),
        np.where(clamped < policy.threshold, suppression.BELOW, 0),
    ).astype(np.int8)
    if table.lines is not None:
        suppression.complementary(clamped, reasons, table.lines)
    return raw, _counts(clamped, policy), reasons


def _intervals(
    scale: float,
    table: Layout,
    policy: Policy,
    raw: np.ndarray,
    counts: np.ndarray,
    confidence: float,
) -> tuple[np.ndarray, np.ndarray]:
    n_cells = int(np.prod(table.shape))
    width = bounds.half_widths(scale, n_cells, table.margins, confidence)
    return bounds.lower_upper(raw, counts, width, policy.rounding)
