"""Which suppressed items the released ones determine: exact linear algebra over the rationals.

The unknowns are the suppressed items (cells and totals). Every line of the table extended
by its totals gives an equation "members minus total = 0"; released items are constants.
A suppressed item is *determined* (exposed) when every solution of that system gives it
the same value, that is when its unit vector lies in the row space of the equations
restricted to the unknowns (every null-space vector is zero there). On the reduced row
echelon form this is exact and simple: the item is a pivot whose row has no other entry.

The echelon form is computed by SymPy's sparse Gauss-Jordan elimination over ``QQ``
(exact rationals, made fast by gmpy2), never in floating point: a
floating rank with a tolerance can call a determined item free. Unknowns fall into
connected components (two unknowns are joined when a line holds both); each component is
solved on its own, and a component of one unknown is determined outright, since every item
lies on a line, which then holds no other unknown.

Only linear determination is decided. Not considered:

- Bounds. Knowing that counts are whole and non-negative, an attacker can bound a
  suppressed item (for example, by a released total of its line) without determining it;
  no minimum width of such bounds is promised. (The values suppressed are noisy and their
  totals add the unclamped noisy cells, so even non-negativity holds only roughly.)
- Rounding. With rounding, released values are known only to within half the base; the
  analysis treats them as exact, which can only call more items exposed.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from privacy.suppression import Lines


def determined(hidden: np.ndarray, table: Lines, only: np.ndarray | None = None) -> np.ndarray:
    """Mask of the suppressed items that the released items determine exactly.

    ``only``, when given, limits the work to the components that hold one of those items;
    the others are reported as not determined (the caller knows they have not changed).
    """
    unknown = np.flatnonzero(hidden)
    out = np.zeros(len(hidden), dtype=bool)
    if len(unknown) == 0:
        return out
    local = np.full(len(hidden), -1, dtype=np.int64)
    local[unknown] = np.arange(len(unknown))
    rows = _active_lines(hidden, local, table)
    root = _components(len(unknown), rows)
    wanted = None if only is None else {root[i] for i in local[only].tolist() if i >= 0}
    by_root: dict[int, list[list[tuple[int, bool]]]] = {}
    for row in rows:
        r = root[row[0][0]]
        if wanted is None or r in wanted:
            by_root.setdefault(r, []).append(row)
    members: dict[int, list[int]] = {}
    for i, r in enumerate(root):
        if r in by_root:
            members.setdefault(r, []).append(i)
    for r, component in members.items():
        found = component if len(component) == 1 else _solve(component, by_root[r])
        out[unknown[found]] = True
    return out


def _active_lines(
    hidden: np.ndarray, local: np.ndarray, table: Lines
) -> list[list[tuple[int, bool]]]:
    """Each line holding an unknown, as (local unknown id, is the line's total) pairs."""
    rows: list[list[tuple[int, bool]]] = []
    for lines in table.by_axis:
        shut = hidden[lines]
        active = np.flatnonzero(shut.any(axis=1))
        last = lines.shape[1] - 1
        for ids, flags in zip(local[lines[active]].tolist(), shut[active].tolist(), strict=True):
            rows.append(
                [(i, k == last) for k, (i, f) in enumerate(zip(ids, flags, strict=True)) if f]
            )
    return rows


def _components(n: int, rows: list[list[tuple[int, bool]]]) -> list[int]:
    """The root of each unknown's component (union-find with path halving)."""
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for row in rows:
        first = find(row[0][0])
        for i, _ in row[1:]:
            other = find(i)
            if other != first:
                parent[other] = first
    return [find(i) for i in range(n)]


def _solve(component: list[int], rows: list[list[tuple[int, bool]]]) -> list[int]:
    """The unknowns of one component that its equations determine (exact RREF)."""
    column = {u: k for k, u in enumerate(component)}
    system = tuple(tuple((column[i], total) for i, total in row) for row in rows)
    solve = _determined_columns if len(component) <= REMEMBERED else _determined_columns.__wrapped__
    return [component[k] for k in solve(system, len(component))]


# Components of at most this many unknowns have their answer kept per process: the same
# pattern of suppressed cells recurs from release to release of a small table, and its answer
# is a function of the pattern alone (of noisy values, never of the data's own).
REMEMBERED = 64


System = tuple[tuple[tuple[int, bool], ...], ...]


@lru_cache(maxsize=2048)
def _determined_columns(system: System, width: int) -> tuple[int, ...]:
    """The columns of ``system`` (rows of (column, is the line's total)) that it determines."""
    # Imported here: SymPy costs a third of a second to import, which every command would pay.
    from sympy import QQ
    from sympy.polys.matrices import DomainMatrix

    member, total_ = QQ(1), QQ(-1)
    rows = {
        r: {k: (total_ if total else member) for k, total in row} for r, row in enumerate(system)
    }
    matrix = DomainMatrix(rows, (len(system), width), QQ)
    echelon, _ = matrix.rref(method="GJ")
    return tuple(next(iter(row)) for row in echelon.to_dod().values() if len(row) == 1)
