"""The public code lists: every dimension a query may group or filter by.

The lists are data (``codelists/codelists.json``), versioned with the schema. Nothing here
depends on the case data: the keys of every released table come from these lists alone.
Time dimensions (month, quarter, year) are generated from a dataset version's period. Which
dimensions exist, and their kinds, is ``schema.vocabulary``; the file must agree with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from schema.vocabulary import check_code_lists


@dataclass(frozen=True)
class Code:
    code: str
    en: str
    ur: str
    attrs: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Dimension:
    name: str
    codes: tuple[Code, ...]
    multi: bool = False
    derived_from: str | None = None
    default_max_values: int = 1

    def code_list(self) -> list[str]:
        return [c.code for c in self.codes]

    def bit(self, code: str) -> int:
        """Bit of a multi-valued code in the fact table's mask column (code-list order)."""
        return 1 << self.code_list().index(code)


@dataclass(frozen=True)
class CodeLists:
    version: str
    dimensions: dict[str, Dimension]

    def __getitem__(self, name: str) -> Dimension:
        return self.dimensions[name]

    @property
    def multi_valued(self) -> list[str]:
        return [d.name for d in self.dimensions.values() if d.multi]

    def complaint_group_of(self) -> dict[str, str]:
        return {c.code: c.attrs["group"] for c in self["complaint_type"].codes}

    def fia_city_of(self) -> dict[str, str]:
        out = {}
        for c in self["city"].codes:
            office = c.attrs.get("fia_office")
            out[c.code] = "UNK" if office is None else ("YES" if office else "NO")
        return out


@cache
def codelists() -> CodeLists:
    raw = json.loads(
        resources.files("schema").joinpath("codelists/codelists.json").read_text("utf-8")
    )
    dims: dict[str, Dimension] = {}
    for name, spec in raw["dimensions"].items():
        codes = tuple(
            Code(
                c["code"],
                c["en"],
                c["ur"],
                {k: v for k, v in c.items() if k not in ("code", "en", "ur")},
            )
            for c in spec["codes"]
        )
        dims[name] = Dimension(
            name=name,
            codes=codes,
            multi=bool(spec.get("multi", False)),
            derived_from=spec.get("derived_from"),
            default_max_values=int(spec.get("default_max_values", 1)),
        )
    check_code_lists({d.name: (d.multi, d.derived_from) for d in dims.values()})
    return CodeLists(version=str(raw["version"]), dimensions=dims)


def month_of_quarter(month: str) -> str:
    year, mon = month.split("-")
    return f"{year}-Q{(int(mon) - 1) // 3 + 1}"


def months_between(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last`` inclusive, as ``YYYY-MM``."""
    y, m = (int(p) for p in first.split("-"))
    ly, lm = (int(p) for p in last.split("-"))
    out = []
    while (y, m) <= (ly, lm):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def time_codes(dimension: str, first: str, last: str) -> list[str]:
    """The public key set of a time dimension over a period of months."""
    months = months_between(first, last)
    if dimension == "month":
        return months
    if dimension == "quarter":
        return list(dict.fromkeys(month_of_quarter(m) for m in months))
    if dimension == "year":
        return list(dict.fromkeys(m[:4] for m in months))
    raise KeyError(dimension)
