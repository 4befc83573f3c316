"""Small-cell suppression on noisy values, and complementary suppression over totals.

Items are the table's cells followed by every total (margin), and only their noisy values
are read. A cell is suppressed when its noisy count is below the threshold (the stricter one
when it, or the query, touches a sensitive value); so is a total.

**Exposure.** The released items and the table's public layout give a system of linear
equations, one per line of the table extended by its totals ("a total equals the sum of the
items one level finer along one axis"; these span every relation between items). A
suppressed item is *exposed* when that system determines it uniquely from the released
values: ``exposure.determined`` decides this exactly, over the rationals. Complementary
suppression suppresses more items until no suppressed item is exposed, so no released
number, combined linearly with others, gives back a suppressed one. What that does not
cover is stated in ``privacy.exposure`` (bounds, rounding).

**Which item to add.** Each round decides exposure (after the first, only in the connected
components that changed), then adds one item per exposed item (two may share one): among
the lines through it that hold a released item,
those with the fewest suppressed items (a line on which it is alone is the usual leak, and a
suppression there closes it); on them, an item whose other lines already hold a suppressed
item (suppressed alone on a line, it would be exposed at once); then the smallest noisy
value (the least information lost; totals are rarely the smallest, so cells go first and
margins, the most used numbers, stay); then the earlier position. Rounds repeat until
nothing is exposed. Suppressing more never exposes an item that was not (every solution
stays a solution), each round adds at least one item, and a table with everything
suppressed exposes nothing, so it ends.

The outcome depends only on the noisy values and the public layout, and is deterministic.
The choice reads only which items are suppressed and the values of released items, both
of which the release shows. What it does tell, as any cell suppression does, is an
inequality: an item suppressed this way was preferred to the released items beside it,
mostly for being smaller, so its noisy value is likely at most theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from privacy import exposure

BELOW = 1
SENSITIVE = 2
COMPLEMENTARY = 3
REASONS = {
    BELOW: "below_threshold",
    SENSITIVE: "sensitive_threshold",
    COMPLEMENTARY: "complementary",
}


@dataclass(frozen=True)
class Lines:
    """The lines of the table extended by its totals, one array per axis.

    ``by_axis[a]`` has one row per line along axis ``a``: the ids of its members, then the
    id of its total last. ``of_item[i]`` holds the ids of the lines through item ``i``, one
    per axis, numbered across axes in ``by_axis`` order (``starts`` gives each axis's first).
    """

    by_axis: tuple[np.ndarray, ...]
    of_item: np.ndarray
    starts: tuple[int, ...]

    def items(self, line: int) -> np.ndarray:
        axis = int(np.searchsorted(self.starts, line, side="right")) - 1
        members: np.ndarray = self.by_axis[axis][line - self.starts[axis]]
        return members


def margin_sets(n_axes: int) -> list[tuple[int, ...]]:
    """Every non-empty set of axes a total may sum over, smallest first."""
    return [s for k in range(1, n_axes + 1) for s in combinations(range(n_axes), k)]


def lines(shape: tuple[int, ...], offsets: dict[tuple[int, ...], int]) -> Lines:
    """The lines of the extended table whose items are numbered cells first, then totals.

    ``offsets[s]`` is the id of the first total summing over the axes ``s``; its totals are
    numbered row-major over the axes it keeps, like the cells.
    """
    extended = np.empty([n + 1 for n in shape], dtype=np.int64)
    extended[tuple(slice(0, n) for n in shape)] = np.arange(int(np.prod(shape))).reshape(shape)
    for s, offset in offsets.items():
        kept = [n for i, n in enumerate(shape) if i not in s]
        at = tuple(n if i in s else slice(0, n) for i, n in enumerate(shape))
        extended[at] = offset + np.arange(int(np.prod(kept)), dtype=np.int64).reshape(kept)
    by_axis = []
    of_item = np.empty((extended.size, len(shape)), dtype=np.int64)
    starts = []
    start = 0
    for a, n in enumerate(shape):
        axis_lines = np.moveaxis(extended, a, -1).reshape(-1, n + 1)
        by_axis.append(axis_lines)
        starts.append(start)
        of_item[axis_lines, a] = start + np.arange(len(axis_lines))[:, None]
        start += len(axis_lines)
    for array in (*by_axis, of_item):
        array.flags.writeable = False
    return Lines(tuple(by_axis), of_item, tuple(starts))


def complementary(values: np.ndarray, reasons: np.ndarray, table: Lines) -> None:
    """Suppress further items in place until no suppressed item is exposed."""
    hidden = reasons != 0
    dirty: np.ndarray | None = None
    while True:
        exposed = np.flatnonzero(exposure.determined(hidden, table, only=dirty))
        if len(exposed) == 0:
            return
        dirty = _picks(exposed, values, hidden, table)
        reasons[dirty] = COMPLEMENTARY
        hidden[dirty] = True


def _picks(exposed: np.ndarray, values: np.ndarray, hidden: np.ndarray, table: Lines) -> np.ndarray:
    """One new suppression per exposed item (two exposed items may share one)."""
    open_lines = np.concatenate([hidden[lines].any(axis=1) for lines in table.by_axis])
    picks = {_pick(item, values, hidden, open_lines, table) for item in exposed.tolist()}
    return np.array(sorted(picks), dtype=np.int64)


def _pick(
    exposed: int, values: np.ndarray, hidden: np.ndarray, open_lines: np.ndarray, table: Lines
) -> int:
    """The released item to suppress for one exposed item (the rule in the module docstring).

    Lines are searched outwards from the exposed item (next, the lines through the
    suppressed items of lines already seen) until one holds a released item; one always
    does, since a set of items closed under "every line through them" is the whole table,
    and a table with everything suppressed exposes nothing.
    """
    frontier = table.of_item[exposed].tolist()
    seen = set(frontier)
    while frontier:
        best: tuple[int, int, int, int] | None = None
        further: list[int] = []
        for line in frontier:
            items = table.items(line)
            shut = hidden[items]
            on_line = int(shut.sum())
            for item in items[~shut].tolist():
                # Suppressed alone on one of its other lines, it would be exposed at once.
                alone = int(not open_lines[table.of_item[item]].all())
                candidate = (on_line, alone, int(values[item]), item)
                best = candidate if best is None else min(best, candidate)
            further.extend(table.of_item[items[shut]].reshape(-1).tolist())
        if best is not None:
            return best[3]
        frontier = [line for line in dict.fromkeys(further) if line not in seen]
        seen.update(frontier)
    raise AssertionError("an exposed item in a table with nothing released")
