"""A release as one typed table: the layout every file format of an extract shares.

Columns come in the order the query grouped its dimensions. A time dimension is numbers, not
codes: ``year`` is the year; ``month`` and ``quarter`` are their number within the year, with
the year in a ``year`` column (one, shared by every time dimension). Any other dimension is its
code, English label and Urdu label. Then ``count`` (blank when suppressed), ``lower``,
``upper``, ``suppressed``, ``reason``, and the totals flagged in their own columns: ``total``
(a margin row) and ``total_over`` (the dimensions it sums over, space-separated). A margin row
leaves a summed-over time dimension blank; a summed-over coded dimension reads ``TOTAL``.

Everything here is read from the release's stored body: values are the noisy, post-processed
cells, and a suppressed cell stays blank in every format. No text can start a spreadsheet
formula: text that begins with ``= + - @``, a tab or a carriage return is prefixed with an
apostrophe (counts and bounds are never negative, so numbers are untouched).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schema.vocabulary import TIME

Value = str | int | bool | None
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
NUMBERS = ("count", "lower", "upper")
TAIL = (*NUMBERS, "suppressed", "reason", "total", "total_over")


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[Value]]
    dimensions: list[str]  # in the order the columns show them


def neutralise(value: str) -> str:
    """Text a spreadsheet would read as a formula, prefixed with an apostrophe."""
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def ordered(stored: list[str], asked: list[str] | None) -> list[str]:
    """The release's dimensions in the order the query asked for them (the release stores them
    sorted); the stored order when ``asked`` does not name exactly the same dimensions."""
    wanted = [name.strip().lower() for name in asked or []]
    return wanted if sorted(wanted) == sorted(stored) else list(stored)


def columns(dimensions: list[str]) -> list[str]:
    names: list[str] = []
    for dimension in dimensions:
        if dimension in TIME:
            names += [n for n in dict.fromkeys(("year", dimension)) if n not in names]
        else:
            names += [dimension, f"{dimension}_label", f"{dimension}_label_ur"]
    return [*names, *TAIL]


def _number_within_year(code: str) -> int:
    """``2024-03`` is month 3, ``2024-Q2`` quarter 2 (codes as ``schema.codelists`` makes them)."""
    return int(code[5:].removeprefix("Q"))


def _row(cell: dict[str, Any], dimensions: list[str], names: list[str]) -> list[Value]:
    keys = {key["dimension"]: key for key in cell["key"]}
    values: dict[str, Value] = {}
    over = []
    for dimension in dimensions:
        key = keys[dimension]
        summed = key["code"] == "TOTAL"
        if summed:
            over.append(dimension)
        if dimension in TIME:  # every time code not summed over names the same year
            if dimension != "year":
                values[dimension] = None if summed else _number_within_year(key["code"])
            if not summed:
                values["year"] = int(key["code"][:4])
        else:
            values[dimension] = key["code"]
            values[f"{dimension}_label"] = key["label"]
            values[f"{dimension}_label_ur"] = key["label_ur"]
    values |= {name: cell[name] for name in (*NUMBERS, "suppressed", "reason", "total")}
    if cell["suppressed"]:
        values["count"] = None  # whatever the stored body says, a suppressed cell shows nothing
    values["total_over"] = " ".join(over) if cell["total"] else None
    return [values.get(name) for name in names]


def table(body: dict[str, Any], asked: list[str] | None = None) -> Table:
    """The release's cells as rows of ``columns``, dimensions in the asked order."""
    dimensions = ordered(list(body["group_by"]), asked)
    names = columns(dimensions)
    return Table(names, [_row(c, dimensions, names) for c in body["cells"]], dimensions)
