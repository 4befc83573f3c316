"""Releasing a histogram: one OpenDP measurement, then post-processing on noisy values only.

Post-processing costs no privacy: clamp at zero, suppress small cells (a stricter threshold
for cells or queries that touch a sensitive value), totals on request with complementary
suppression, optional rounding. A suppressed cell carries no number and no interval, and its
reason depends only on public facts (its key and the query) and on noisy values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat

import numpy as np

from privacy import suppression
from privacy.accuracy import sum_half_width
from privacy.errors import InvalidQuery
from privacy.plan import MECHANISM, Plan

TOTAL = None  # the key value of an axis a total sums over
_REASON_NAMES = np.array([None, *(suppression.REASONS[k] for k in sorted(suppression.REASONS))])


@dataclass(frozen=True)
class Axis:
    dimension: str
    codes: tuple[str, ...]
    sensitive: frozenset[str] = frozenset()


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
    axes: tuple[Axis, ...]
    plan: Plan
    policy: Policy
    keys: tuple[tuple[str | None, ...], ...]
    counts: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    reasons: np.ndarray
    n_cells: int
    noisy: np.ndarray  # the measurement's output for the cells: what a release stores

    @property
    def mechanism(self) -> str:
        return MECHANISM

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


@dataclass(frozen=True)
class _Layout:
    """Everything about a table that depends only on its public axes, computed once."""

    shape: tuple[int, ...]
    keys: tuple[tuple[str | None, ...], ...]
    sensitive: np.ndarray  # per item: touches a sensitive value
    margins: tuple[tuple[tuple[int, ...], int, int], ...]  # (summed axes, cells covered, size)
    equations: suppression.Equations | None


def _sensitive_mask(axes: Sequence[Axis], shape: tuple[int, ...]) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    for i, axis in enumerate(axes):
        flags = np.array([c in axis.sensitive for c in axis.codes], dtype=bool)
        view = [1] * len(shape)
        view[i] = len(axis.codes)
        mask = mask | flags.reshape(view)
    return mask


def _keys(axes: Sequence[Axis], s: tuple[int, ...] = ()) -> list[tuple[str | None, ...]]:
    grids = [((TOTAL,) if i in s else a.codes) for i, a in enumerate(axes)]
    out: list[tuple[str | None, ...]] = [()]
    for codes in grids:
        out = [(*k, c) for k in out for c in codes]
    return out


@lru_cache(maxsize=256)
def _layout(axes: tuple[Axis, ...], margins: bool) -> _Layout:
    shape = tuple(len(a.codes) for a in axes)
    cells = _sensitive_mask(axes, shape)
    keys = _keys(axes)
    flags = [cells.reshape(-1)]
    spans = []
    offsets: dict[tuple[int, ...], int] = {}
    at = int(np.prod(shape))
    if margins and axes:
        for s in suppression.margin_sets(len(axes)):
            touched = cells.any(axis=s)
            offsets[s] = at
            at += touched.size
            spans.append((s, int(np.prod([shape[i] for i in s])), int(touched.size)))
            flags.append(touched.reshape(-1))
            keys += _keys(axes, s)
    sensitive = np.concatenate(flags)
    sensitive.flags.writeable = False
    equations = suppression.equations(shape, offsets) if offsets else None
    return _Layout(shape, tuple(keys), sensitive, tuple(spans), equations)


def release(
    plan: Plan, true_counts: Sequence[int], axes: Sequence[Axis], policy: Policy
) -> Release:
    """Run the plan's measurement over the true counts (row-major over ``axes``)."""
    shape = tuple(len(a.codes) for a in axes)
    if int(np.prod(shape)) != len(true_counts) or len(true_counts) != plan.cells:
        raise InvalidQuery("the counts do not match the key set the plan was made for")
    return postprocess(plan, measure(plan, true_counts), axes, policy)


def measure(plan: Plan, true_counts: Sequence[int]) -> np.ndarray:
    """The plan's one OpenDP measurement over the true counts: the noisy cells."""
    return np.asarray(plan.measurement(list(true_counts)), dtype=np.int64)


def postprocess(plan: Plan, noisy: np.ndarray, axes: Sequence[Axis], policy: Policy) -> Release:
    """Everything after the noise. Reads only noisy values; public for the zero-noise tests."""
    layout = _layout(tuple(axes), policy.margins)
    n = len(noisy)
    raw = noisy
    width = np.full(len(layout.keys), plan.margin_of_error, dtype=np.int64)
    if layout.margins:
        grid = noisy.reshape(layout.shape)
        parts = [noisy]
        at = n
        for s, covered, size in layout.margins:
            parts.append(grid.sum(axis=s, dtype=np.int64).reshape(-1))
            width[at : at + size] = sum_half_width(plan.scale, covered, plan.confidence)
            at += size
        raw = np.concatenate(parts)
    touch = layout.sensitive | policy.sensitive_query
    counts: np.ndarray = np.maximum(raw, 0)
    reasons = np.where(
        touch,
        np.where(counts < policy.sensitive_threshold, suppression.SENSITIVE, 0),
        np.where(counts < policy.threshold, suppression.BELOW, 0),
    ).astype(np.int8)
    if layout.equations is not None:
        suppression.complementary(counts, reasons, layout.equations)
    lower: np.ndarray = np.maximum(raw - width, 0)
    upper: np.ndarray = np.maximum(raw + width, 0)
    if policy.rounding:
        base = policy.rounding
        counts = (counts + base // 2) // base * base
        lower = lower // base * base
        upper = -(-upper // base) * base
    return Release(
        axes=tuple(axes),
        plan=plan,
        policy=policy,
        keys=layout.keys,
        counts=counts,
        lower=lower,
        upper=upper,
        reasons=reasons,
        n_cells=n,
        noisy=noisy,
    )
