"""Shares, changes and rates per month over a released table, each with its interval.

A ``Table`` is a released table whose cells each give a ``privacy.ratios.Linear``: its
``figure(cells, line)`` is the Linear of the sum of some of its cells. A direct release
builds one from its stored noisy cells and noise scale (``direct_table``: discrete Laplace
noise, independent per cell); a table derived from a summary from its cells' Linears
(``cell_table``: each the exact combination of the summary's noises, so a share's part and
whole carry their covariance). The statistics are post-processing of those figures
(``privacy.ratios``): no new randomness, nothing charged.

- ``shares``: each cell over the total of its line along one dimension, the other
  dimensions held. Suppressed when the cell is (``count_suppressed``) or its total is
  (``total_suppressed``).
- ``changes``: per line along the time dimension, the cases of one period against another's,
  in cases and in percent; suppressed when either period's total is (``total_suppressed``).
- ``rates``: the cases of each line along the time dimension (or of each cell, without
  one) per month of the period; suppressed when that total (or cell) is.

A shown share, change or rate gives its total away, so a total is suppressed as a release
with margins would suppress it: a whole line's total by the margins' rule (its own threshold,
then complementary suppression, kept only if no cell the table suppressed is then exposed,
else only totals of released cells are shown); a sum over part of a line (the months of a
quarter) when any of its cells is suppressed. So no statistic, nor all of them together,
gives a suppressed count back.

Figures are in the table's row-major order over the dimensions they keep. A share of a zero
total has no value (``value`` None, not suppressed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import product

import numpy as np

from privacy import exposure, ratios
from privacy.layout import Axis, layout_of
from privacy.ratios import Linear
from privacy.release import Policy, decide

Summing = Callable[[Sequence[int], Sequence[int]], Linear]
# Why a figure is suppressed: a count it uses is, a total it uses is, or it could not be
# computed (``api.statistics``: a failure no input should reach, answered the same way).
REASONS = ("count_suppressed", "total_suppressed", "not_computable")


@dataclass(frozen=True)
class Table:
    dimensions: tuple[str, ...]
    codes: tuple[tuple[str, ...], ...]  # per dimension, in row-major order
    figure: Summing  # (cells, line): the sum of ``cells``, all of them within ``line``

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(c) for c in self.codes)


def direct_table(
    axes: Sequence[Axis],
    noisy: Sequence[int],
    scale: float,
    suppressed: Sequence[bool],
    policy: Policy,
) -> Table:
    """A direct release's table: its axes, noisy cells (row-major) and their scale, which of
    its cells it suppressed, and its policy. A figure's weights run over its line only."""
    values = np.asarray(noisy, dtype=np.int64)

    def figure(cells: Sequence[int], line: Sequence[int]) -> Linear:
        within = np.asarray(line)
        weights = np.isin(within, np.asarray(cells)).astype(float).tolist()
        return ratios.direct(values[within], scale, weights, tuple(within.tolist()))

    return _suppressing(axes, values, suppressed, policy, figure)


def cell_table(
    axes: Sequence[Axis], cells: Sequence[Linear], suppressed: Sequence[bool], policy: Policy
) -> Table:
    """A table whose cells each carry their own Linear (a summary's derived table: a sum of
    cells is the exact linear combination of the summary's noises), which of its cells are
    suppressed, and the policy. Totals are suppressed as a direct table's, from the shown
    numbers (the estimates are the noisy values a derived table has)."""

    def figure(chosen: Sequence[int], line: Sequence[int]) -> Linear:
        out = cells[chosen[0]]
        for i in chosen[1:]:
            out = out + cells[i]
        return out

    shown = np.asarray([c.shown for c in cells], dtype=np.int64)
    return _suppressing(axes, shown, suppressed, policy, figure)


def _suppressing(
    axes: Sequence[Axis],
    values: np.ndarray,
    suppressed: Sequence[bool],
    policy: Policy,
    summing: Summing,
) -> Table:
    """The table whose figures are ``summing``'s, suppressed as the module docstring says."""
    hidden = np.asarray(suppressed, dtype=bool)
    totals = _hidden_totals(tuple(axes), values, hidden, policy)

    def figure(cells: Sequence[int], line: Sequence[int]) -> Linear:
        f = summing(cells, line)
        if len(cells) == 1:
            return replace(f, suppressed=bool(hidden[cells[0]]))
        if len(cells) == len(line) and tuple(line) in totals:
            return replace(f, suppressed=totals[tuple(line)])
        return replace(f, suppressed=bool(hidden[np.asarray(cells)].any()))

    dimensions = tuple(a.dimension for a in axes)
    return Table(dimensions, tuple(a.codes for a in axes), figure)


def _hidden_totals(
    axes: tuple[Axis, ...], noisy: np.ndarray, hidden: np.ndarray, policy: Policy
) -> dict[tuple[int, ...], bool]:
    """Whether each whole line's total is suppressed, by line (its cells' flat indices).

    The totals are decided as a release with margins decides them (below the threshold, and
    complementary suppression), with the table's own cells suppressed as it released them.
    Should those totals then expose a suppressed cell (exactly, ``privacy.exposure``), more
    are suppressed, a step at a time until none is: the totals over exactly one suppressed
    cell; then those over several axes (no statistic shows them); then every total over a
    suppressed cell, leaving only sums of released cells."""
    if not axes:
        return {}
    table = layout_of(axes, True)
    _, _, reasons = decide(noisy, axes, replace(policy, margins=True))
    n = len(noisy)
    shown_totals = reasons[n:] == 0
    grid = hidden.reshape(table.shape)
    over = np.concatenate([grid.sum(axis=s).reshape(-1) for s, _, _ in table.margins])
    summed = np.concatenate([np.full(size, len(s)) for s, _, size in table.margins])
    steps = [over == 1, (over > 0) & (summed > 1), over > 0]
    assert table.lines is not None
    for step in steps:
        if not exposure.determined(np.concatenate([hidden, ~shown_totals]), table.lines).any():
            break
        shown_totals &= ~step
    out: dict[tuple[int, ...], bool] = {}
    flat = np.arange(n).reshape(table.shape)
    at = 0
    for s, _, size in table.margins:
        if len(s) == 1:
            lines = np.moveaxis(flat, s[0], -1).reshape(-1, table.shape[s[0]])
            for line, shown in zip(
                lines.tolist(), shown_totals[at : at + size].tolist(), strict=True
            ):
                out[tuple(line)] = not shown
        at += size
    return out


@dataclass(frozen=True)
class Figure:
    key: tuple[str, ...]  # one code per dimension it keeps
    value: float | None  # None: suppressed, or a share of a zero total
    lower: float | None  # None with a value: unbounded
    upper: float | None
    suppressed: bool = False
    reason: str | None = None
    percent: ratios.Ratio | None = None  # a change's, in percent


def _lines(table: Table, axis: int) -> tuple[list[tuple[str, ...]], np.ndarray]:
    """Each line along ``axis``: the other dimensions' codes, and the line's flat indices."""
    flat = np.arange(int(np.prod(table.shape))).reshape(table.shape)
    lines = np.moveaxis(flat, axis, -1).reshape(-1, table.shape[axis])
    others = [c for i, c in enumerate(table.codes) if i != axis]
    return list(product(*others)), lines


def _hidden(key: tuple[str, ...], reason: str) -> Figure:
    return Figure(key, None, None, None, True, reason)


def shares(table: Table, of: str, confidence: float) -> list[Figure]:
    axis = table.dimensions.index(of)
    _, lines = _lines(table, axis)
    keys = list(product(*table.codes))
    found: dict[int, Figure] = {}
    for line in lines.tolist():
        whole = table.figure(line, line)
        for cell in line:
            part = table.figure([cell], line)
            if part.suppressed or whole.suppressed:
                reason = "count_suppressed" if part.suppressed else "total_suppressed"
                found[cell] = _hidden(keys[cell], reason)
                continue
            r = ratios.share(part, whole, confidence)
            found[cell] = Figure(keys[cell], r.value, r.lower, r.upper)
    return [found[i] for i in range(len(keys))]


def changes(
    table: Table, time: str, before: Sequence[int], after: Sequence[int], confidence: float
) -> list[Figure]:
    """``before`` and ``after``: positions on the time axis of the two periods' codes."""
    keys, lines = _lines(table, table.dimensions.index(time))
    out = []
    for key, line in zip(keys, lines.tolist(), strict=True):
        was = table.figure([line[i] for i in before], line)
        now = table.figure([line[i] for i in after], line)
        diff, percent = ratios.change(was, now, confidence)
        if diff.suppressed:
            single = (len(before) == 1 and was.suppressed) or (len(after) == 1 and now.suppressed)
            out.append(_hidden(key, "count_suppressed" if single else "total_suppressed"))
            continue
        lo, hi = diff.interval(confidence)
        out.append(Figure(key, float(diff.shown), lo, hi, percent=percent))
    return out


def rates(table: Table, time: str | None, months: int, confidence: float) -> list[Figure]:
    """Cases per month: along the time dimension if the table has one, else per cell."""
    if time is None:
        keys = list(product(*table.codes))
        lines = np.arange(len(keys)).reshape(-1, 1)
    else:
        keys, lines = _lines(table, table.dimensions.index(time))
    out = []
    for key, line in zip(keys, lines.tolist(), strict=True):
        total = table.figure(line, line)
        if total.suppressed:
            out.append(_hidden(key, "count_suppressed" if time is None else "total_suppressed"))
            continue
        value, lo, hi = ratios.rate(total, months, confidence)
        out.append(Figure(key, value, lo, hi))
    return out
