"""An independent, exact check of what released items determine, for small tables.

It shares no code with ``privacy.exposure``: the unknowns are the suppressed *cells* only
(released cells are known numbers), each released total is a known sum over cells, found
from the keys alone, and an item is determined when its own sum over the suppressed cells
lies in the span of the known ones. The span is tested by integer (fraction-free)
elimination, so nothing is rounded.
"""

from __future__ import annotations

from math import gcd

TOTAL = None


def covers(total_key, cell_key) -> bool:
    return all(t is TOTAL or t == c for t, c in zip(total_key, cell_key, strict=True))


def _reduce(vector: list[int], basis: list[tuple[int, list[int]]]) -> list[int]:
    """``vector`` minus its part in the span of ``basis`` (each row zero at earlier pivots)."""
    v = list(vector)
    for pivot, row in basis:
        if v[pivot]:
            a, b = row[pivot], v[pivot]
            v = [a * x - b * y for x, y in zip(v, row, strict=True)]
            g = gcd(*v)
            if g > 1:
                v = [x // g for x in v]
    return v


def _basis(rows: list[list[int]]) -> list[tuple[int, list[int]]]:
    basis: list[tuple[int, list[int]]] = []
    for row in rows:
        rest = _reduce(row, basis)
        nonzero = [i for i, x in enumerate(rest) if x]
        if nonzero:
            basis.append((nonzero[0], rest))
    return basis


def determined(keys, n_cells: int, hidden) -> set[int]:
    """The suppressed items (by position) that the released ones determine exactly."""
    cells = keys[:n_cells]
    unknown = [j for j in range(n_cells) if hidden[j]]

    def on_unknown(key) -> list[int]:
        return [int(covers(key, cells[j])) for j in unknown]

    known = [on_unknown(keys[i]) for i in range(n_cells, len(keys)) if not hidden[i]]
    basis = _basis(known)
    return {
        i for i, key in enumerate(keys) if hidden[i] and not any(_reduce(on_unknown(key), basis))
    }
