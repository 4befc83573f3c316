"""Small-cell suppression on noisy values, and complementary suppression over totals.

Items are the table's cells followed by every total (margin). An equation says a released
total equals the sum of the items it covers. Where an equation has exactly one suppressed
item, that item could be recovered by subtraction, so the smallest released item of the
equation is suppressed too (or, when there is none, the total itself); repeat until stable.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

BELOW = 1
SENSITIVE = 2
COMPLEMENTARY = 3
REASONS = {
    BELOW: "below_threshold",
    SENSITIVE: "sensitive_threshold",
    COMPLEMENTARY: "complementary",
}


@dataclass(frozen=True)
class Equations:
    """Equations grouped by how many items they cover: (totals, members) index arrays."""

    groups: tuple[tuple[np.ndarray, np.ndarray], ...]


def margin_sets(n_axes: int) -> list[tuple[int, ...]]:
    """Every non-empty set of axes a total may sum over, smallest first."""
    return [s for k in range(1, n_axes + 1) for s in combinations(range(n_axes), k)]


def equations(shape: tuple[int, ...], offsets: dict[tuple[int, ...], int]) -> Equations:
    """Each total against the cells it covers, and against the totals one level finer."""
    n = int(np.prod(shape))
    ids: dict[tuple[int, ...], np.ndarray] = {(): np.arange(n).reshape(shape)}
    for s, offset in offsets.items():
        kept = [len_ for i, len_ in enumerate(shape) if i not in s]
        ids[s] = offset + np.arange(int(np.prod(kept)), dtype=np.int64).reshape(kept)
    groups = []
    for s in offsets:
        rest = [i for i in range(len(shape)) if i not in s]
        cells = np.moveaxis(ids[()], list(s), list(range(len(rest), len(shape))))
        groups.append((ids[s].reshape(-1), cells.reshape(ids[s].size, -1)))
        if len(s) < 2:
            continue
        for a in s:
            child = tuple(i for i in s if i != a)
            child_rest = [i for i in range(len(shape)) if i not in child]
            position = child_rest.index(a)
            members = np.moveaxis(ids[child], position, -1).reshape(ids[s].size, -1)
            groups.append((ids[s].reshape(-1), members))
    return Equations(tuple(groups))


def complementary(values: np.ndarray, reasons: np.ndarray, eqs: Equations) -> None:
    """Suppress further items in place until no equation isolates a suppressed one."""
    changed = True
    while changed:
        changed = False
        for totals, members in eqs.groups:
            hidden = (reasons[members] != 0).sum(axis=1)
            for row in np.flatnonzero((hidden == 1) & (reasons[totals] == 0)):
                items = members[row]
                shown = items[reasons[items] == 0]
                if len(items) - len(shown) != 1 or reasons[totals[row]] != 0:
                    continue  # changed earlier in this pass
                pick = shown[np.argmin(values[shown])] if len(shown) else totals[row]
                reasons[pick] = COMPLEMENTARY
                changed = True
