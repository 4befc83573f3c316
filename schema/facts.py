"""Packing one case's dimension values into a single 64-bit integer, and back.

Loading stages, bounds and aggregates cases by this integer (``combo``), which is far faster
than grouping by fifteen text columns; ``case_counts`` keeps it beside the readable columns so
a new version merges with the previous one by integer too. Positions are code-list order.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from schema.codelists import codelists
from schema.vocabulary import STORED

FIRST_YEAR = 2000  # month 0 of the packed month index


@dataclass(frozen=True)
class Field:
    name: str
    bits: int
    shift: int


# Single-valued dimensions hold a code-list position; the multi-valued ones a bit mask. The
# order is the bit layout of every stored ``combo``: the vocabulary keeps it.
PACKED = STORED
MONTH_BITS = 10


@cache
def layout() -> tuple[Field, ...]:
    lists = codelists()
    fields = []
    shift = 0
    for name in PACKED:
        if name == "month":
            bits = MONTH_BITS
        elif lists[name].multi:
            bits = len(lists[name].codes)
        else:
            bits = max(1, (len(lists[name].codes) - 1).bit_length())
        fields.append(Field(name, bits, shift))
        shift += bits
    if shift > 62:
        raise ValueError("the code lists no longer fit one 64-bit integer")
    return tuple(fields)


def month_index(year: int, month: int) -> int:
    return (year - FIRST_YEAR) * 12 + month - 1


def month_code(index: int) -> str:
    return f"{FIRST_YEAR + index // 12}-{index % 12 + 1:02d}"


def field(name: str) -> Field:
    return next(f for f in layout() if f.name == name)


def encode(values: dict[str, np.ndarray]) -> np.ndarray:
    """Pack per-case positions (or masks) into one int64 per case."""
    combo = np.zeros(len(values["month"]), dtype=np.int64)
    for f in layout():
        combo |= values[f.name].astype(np.int64) << f.shift
    return combo


@cache
def _tables() -> dict[str, np.ndarray]:
    lists = codelists()
    months = [month_code(i) for i in range(1 << MONTH_BITS)]
    tables = {"month": np.array(months, dtype=object)}
    for f in layout():
        if f.name != "month" and not lists[f.name].multi:
            tables[f.name] = np.array(lists[f.name].code_list(), dtype=object)
    return tables


def decode(combo: np.ndarray) -> dict[str, np.ndarray]:
    """The fact table's columns for packed cases, derived roll-ups included."""
    lists = codelists()
    tables = _tables()
    out: dict[str, np.ndarray] = {}
    for f in layout():
        raw = (combo >> f.shift) & ((1 << f.bits) - 1)
        out[f.name] = tables[f.name][raw] if f.name in tables else raw
    months = out["month"].astype(str)
    years = np.char.partition(months, "-")[:, 0]
    quarter = (np.char.partition(months, "-")[:, 2].astype(int) - 1) // 3 + 1
    out["year"] = years.astype(object)
    out["quarter"] = np.char.add(np.char.add(years, "-Q"), quarter.astype(str)).astype(object)
    groups = lists.complaint_group_of()
    fia = lists.fia_city_of()
    out["complaint_group"] = np.array([groups[c] for c in out["complaint_type"]], dtype=object)
    out["fia_city"] = np.array([fia[c] for c in out["city"]], dtype=object)
    return out
