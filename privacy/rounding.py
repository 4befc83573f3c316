"""Whole, non-negative counts from reconciled estimates, with every shared margin equal.

Rounding each table on its own would break the equalities (a year's months would no longer
add up to its total), and controlled rounding of a three-way table to all its two-way
margins does not always exist. So the tables are rounded down a tree, each step splitting
an integer that is already fixed:

- The measured tables are joined into a junction tree (each table's overlap with all tables
  before it lies within its overlap with its parent); a set that forms a cycle is refused.
- The grand total is rounded first (or, for tables of case-values, the first table's cells
  one by one). Each table then starts from its margin on the overlap
  with its parent (already whole, taken from the parent's rounded cells) and adds its other
  dimensions one at a time, in its declared order: every cell of the coarser step is split
  among its children by projecting their estimates onto {x >= 0, sum = that integer} (least
  squares; all cells of a reconciled marginal have the same variance) and then rounding with
  the largest remainders, which keeps the sum exact.

Hence every shown count is a whole number >= 0, each step's cells add up exactly to their
parent, and tables agree on every margin they share. Declaring coarse, sparse dimensions
first (gender before month) keeps the non-negativity shift out of the margins that matter.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from privacy.errors import MalformedQuery
from privacy.reconcile import Fit


def project_to_simplex(values: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Row-wise Euclidean projection onto {x >= 0, sum(x) = total}."""
    n = values.shape[1]
    ordered = -np.sort(-values, axis=1)
    excess = np.cumsum(ordered, axis=1) - totals[:, None]
    ranks = np.arange(1, n + 1)
    active = ordered - excess / ranks > 0
    last = n - 1 - np.argmax(active[:, ::-1], axis=1)
    tau = excess[np.arange(len(values)), last] / (last + 1)
    projected: np.ndarray = np.maximum(values - tau[:, None], 0.0)
    projected[totals <= 0] = 0.0  # the only point of the simplex of a zero total
    return projected


def round_to_totals(values: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Whole numbers >= 0 per row that add up to the row's integer total exactly."""
    projected = project_to_simplex(values, totals.astype(float))
    whole: np.ndarray = np.floor(projected).astype(np.int64)
    remainder = projected - whole
    missing = totals - whole.sum(axis=1)
    rank = np.argsort(np.argsort(-remainder, axis=1, kind="stable"), axis=1, kind="stable")
    whole += rank < missing[:, None]
    for row in np.flatnonzero(missing < 0):  # float error only: take back from the smallest
        for col in np.argsort(remainder[row], kind="stable"):
            if whole[row].sum() == totals[row]:
                break
            if whole[row, col] > 0:
                whole[row, col] -= 1
    return whole


def junction_order(tables: Sequence[tuple[str, ...]]) -> list[tuple[int, int | None]]:
    """Tables as (index, parent index) in an order where each overlap lies in the parent's."""
    if not tables:
        return []
    first = max(range(len(tables)), key=lambda i: (len(tables[i]), -i))
    placed: list[tuple[int, int | None]] = [(first, None)]
    left = [i for i in range(len(tables)) if i != first]
    while left:
        i, parent = max(
            ((i, p) for i in left for p, _ in placed),
            key=lambda ip: (len(set(tables[ip[0]]) & set(tables[ip[1]])), -ip[0], -ip[1]),
        )
        overlap = set(tables[i]) & set(tables[parent])
        for p, _ in placed:
            if not set(tables[i]) & set(tables[p]) <= overlap:
                raise MalformedQuery(
                    "the tables form a cycle, so their rounded margins could not all agree: "
                    f"{' × '.join(tables[i])} meets {' × '.join(tables[p])} outside its "
                    f"overlap with {' × '.join(tables[parent])}; measure a table that holds "
                    "both overlaps instead",
                    field="tables",
                )
        placed.append((i, parent))
        left.remove(i)
    return placed


def _margin(cells: np.ndarray, dims: Sequence[str], keep: Sequence[str]) -> np.ndarray:
    """Integer margin of a row-major table on ``keep`` (in that order)."""
    summed = cells.sum(axis=tuple(i for i, d in enumerate(dims) if d not in keep))
    rest = [d for d in dims if d in keep]
    return np.transpose(summed, [rest.index(d) for d in keep]) if keep else summed


def round_tables(
    fit: Fit, tables: Sequence[tuple[str, ...]], from_total: bool = True
) -> dict[tuple[str, ...], np.ndarray]:
    """Consistent whole counts for each table (row-major in its declared order).

    ``from_total`` False rounds the first table's cells one by one (at zero or above) and
    lets its total be their sum: for case-value tables, whose total counts nothing anyone
    reads, this keeps small cells from giving way to a fixed total.
    """
    shape = {d: len(fit.codes[d]) for d in fit.codes}
    total = np.array([max(0, round(float(fit.estimate(())[0])))], dtype=np.int64)
    out: dict[tuple[str, ...], np.ndarray] = {}
    for i, parent in junction_order(tables):
        dims = tables[i]
        if parent is None and not from_total:
            out[dims] = np.maximum(np.rint(fit.estimate(dims)), 0).astype(np.int64)
            continue
        if parent is None:
            prefix: list[str] = []
            fixed = total
        else:
            pdims = tables[parent]
            prefix = [d for d in dims if d in pdims]
            grid = out[pdims].reshape([shape[d] for d in pdims])
            fixed = _margin(grid, pdims, prefix).reshape(-1)
        for d in dims:
            if d in prefix:
                continue
            real = fit.estimate([*prefix, d]).reshape(len(fixed), shape[d])
            fixed = round_to_totals(real, fixed).reshape(-1)
            prefix.append(d)
        grid = fixed.reshape([shape[d] for d in prefix])
        out[dims] = np.transpose(grid, [prefix.index(d) for d in dims]).reshape(-1)
    return out
