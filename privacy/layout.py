"""A table's public layout: its items, their keys and which touch a sensitive value.

Items are the cells, row-major over the axes, then (with margins) every total: for each set
of summed axes, smallest first, its totals row-major over the axes it keeps. The layout
depends only on the public axes, so it is computed once per table shape and cached.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from privacy import suppression

TOTAL = None  # the key value of an axis a total sums over


@dataclass(frozen=True)
class Axis:
    dimension: str
    codes: tuple[str, ...]
    sensitive: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Layout:
    """Everything about a table that depends only on its public axes, computed once."""

    shape: tuple[int, ...]
    keys: tuple[tuple[str | None, ...], ...]
    sensitive: np.ndarray  # per item: touches a sensitive value
    margins: tuple[tuple[tuple[int, ...], int, int], ...]  # (summed axes, cells covered, size)
    lines: suppression.Lines | None


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
def layout_of(axes: tuple[Axis, ...], margins: bool) -> Layout:
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
    lines = suppression.lines(shape, offsets) if offsets else None
    return Layout(shape, tuple(keys), sensitive, tuple(spans), lines)
