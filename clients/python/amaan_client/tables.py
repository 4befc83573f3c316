"""The API's answers as pandas DataFrames.

A count table has, for each grouped dimension in the order asked, its code, English label
and Urdu label (``gender``, ``gender_label``, ``gender_label_ur``), then ``count``, ``lower``,
``upper`` (nullable integers: empty where suppressed), ``suppressed`` and ``reason``, and
``total`` when the release has margin rows. The release's metadata is on ``DataFrame.attrs``.
Codes stay strings (years and months included), as the API writes them.

A CSV download (``csv_table``) is laid out as the API writes it: time dimensions as numbers
(``year``, and ``month`` or ``quarter`` within it; empty on a total over them), other
dimensions as code and labels, and ``total`` and ``total_over`` (the dimensions a margin row
sums over) after the counts.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pandas as pd

EPSILONS = ("epsilon", "epsilon_charged", "budget_remaining")
NUMBERS = ("count", "lower", "upper")
TIME = ("year", "quarter", "month")
PERCENT = (("", "value"), ("_lower", "lower"), ("_upper", "upper"))


def epsilon(value: Any) -> Any:
    """ε travels as a JSON number exact to six decimals (older servers: a decimal string);
    read through its shortest text, so 0.1 is ``Decimal("0.1")``, exactly."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return value
    return Decimal(str(value).removesuffix(".0"))  # 1.0 reads as 1, as the API means it


def _columns(dimensions: list[str]) -> list[str]:
    names: list[str] = []
    for dimension in dimensions:
        names += [dimension, f"{dimension}_label", f"{dimension}_label_ur"]
    return names


def _ordered(found: list[str], asked: list[str]) -> list[str]:
    """The release's dimensions in the order the caller asked for them (the API stores them in
    a canonical order and accepts any case)."""
    wanted = [name.strip().lower() for name in asked]
    if sorted(wanted) != sorted(found):
        return found
    return wanted


def _keys(cell: dict[str, Any]) -> dict[str, Any]:
    """A cell's key by dimension (older servers sent a list of keys naming their dimension)."""
    key = cell["key"]
    return key if isinstance(key, dict) else {k["dimension"]: k for k in key}


def _in_columns(body: dict[str, Any], asked: list[str]) -> tuple[dict[str, list[Any]], list[str]]:
    """A columnar body's (``?layout=columns``) columns by name, and its dimensions in the order
    asked: labels once per axis, each cell's key an index into its axis (null: a total)."""
    cells, data = body["cells"], {}
    for axis in body["axes"]:
        name, at = axis["dimension"], cells["key"][axis["dimension"]]
        for column, values, total in (
            (name, axis["codes"], "TOTAL"),
            (f"{name}_label", axis["labels"], "Total"),
            (f"{name}_label_ur", axis["labels_ur"], "کل"),
        ):
            data[column] = [total if i is None else values[i] for i in at]
    data |= {name: cells[name] for name in (*NUMBERS, "suppressed", "reason", "total")}
    return data, _ordered([a["dimension"] for a in body["axes"]], asked)


def count_table(body: dict[str, Any], asked: list[str]) -> pd.DataFrame:
    """One row per cell, from the row form or the columnar form (``layout: columns``)."""
    if body.get("layout") == "columns":
        data, dimensions = _in_columns(body, asked)
        margins = bool(body.get("margins"))
        columns = [*_columns(dimensions), *NUMBERS, "suppressed", "reason"]
        frame = pd.DataFrame({c: data[c] for c in [*columns, *(["total"] if margins else [])]})
        return _described(_typed(frame, dimensions), body, dimensions)
    cells = body["cells"]
    stored = list(_keys(cells[0])) if cells else list(body["group_by"])
    dimensions = _ordered(stored, asked)
    margins = bool(body.get("margins"))
    rows = []
    for cell in cells:
        keys = _keys(cell)
        row: dict[str, Any] = {}
        for dimension in dimensions:
            key = keys[dimension]
            row |= {
                dimension: key["code"],
                f"{dimension}_label": key["label"],
                f"{dimension}_label_ur": key["label_ur"],
            }
        row |= {name: cell[name] for name in (*NUMBERS, "suppressed", "reason")}
        if margins:
            row["total"] = cell["total"]
        rows.append(row)
    columns = [*_columns(dimensions), *NUMBERS, "suppressed", "reason"]
    frame = pd.DataFrame(rows, columns=[*columns, "total"] if margins else columns)
    return _described(_typed(frame, dimensions), body, dimensions)


def _described(frame: pd.DataFrame, body: dict[str, Any], dimensions: list[str]) -> pd.DataFrame:
    """The release's metadata on ``.attrs`` (the same whatever the layout)."""
    frame.attrs = {
        name: epsilon(value) if name in EPSILONS else value
        for name, value in body.items()
        if name not in ("cells", "axes", "layout")
    }
    frame.attrs["group_by"] = dimensions
    return frame


def statistic_table(body: dict[str, Any], asked: list[str]) -> pd.DataFrame:
    """A statistic (``share``, ``change``, ``rate``): one row per figure, the dimensions it
    keeps (in the order asked) as code and labels, then ``value``, ``lower``, ``upper``, for
    a change ``percent``, ``percent_lower`` and ``percent_upper``, then ``suppressed`` and
    ``reason``. The release's metadata and the statistic's (``kind``, ``of``, ``from``,
    ``to``, ``per``, ``months``, ``confidence``) are on ``.attrs``."""
    stat = body["statistic"]
    cells = stat["cells"]
    kept = [d for d in body["group_by"] if not cells or d in _keys(cells[0])]
    dimensions = _ordered(kept, [a for a in asked if a.strip().lower() in kept])
    change = stat["kind"] == "change"
    rows = []
    for cell in cells:
        keys = _keys(cell)
        row: dict[str, Any] = {}
        for dimension in dimensions:
            key = keys[dimension]
            row |= {
                dimension: key["code"],
                f"{dimension}_label": key["label"],
                f"{dimension}_label_ur": key["label_ur"],
            }
        row |= {name: cell[name] for name in ("value", "lower", "upper")}
        if change:
            percent = cell["percent"] or {}
            row |= {f"percent{s}": percent.get(n) for s, n in PERCENT}
        rows.append(row | {"suppressed": cell["suppressed"], "reason": cell["reason"]})
    numbers = ["value", "lower", "upper", *(f"percent{s}" for s, _ in PERCENT if change)]
    columns = [*_columns(dimensions), *numbers, "suppressed", "reason"]
    frame = pd.DataFrame(rows, columns=columns)
    types: dict[str, Any] = {name: "float64" for name in numbers}
    types |= {name: "string" for name in [*_columns(dimensions), "reason"]}
    frame = frame.astype(types | {"suppressed": "bool"})
    frame.attrs = {
        name: epsilon(value) if name in EPSILONS else value
        for name, value in body.items()
        if name not in ("cells", "statistic")
    }
    frame.attrs |= {name: value for name, value in stat.items() if name != "cells"}
    frame.attrs["group_by"] = dimensions
    return frame


def _typed(frame: pd.DataFrame, dimensions: list[str]) -> pd.DataFrame:
    types: dict[str, Any] = {name: "Int64" for name in NUMBERS}
    types |= {name: "string" for name in [*_columns(dimensions), "reason"]}
    types["suppressed"] = "bool"
    if "total" in frame.columns:
        types["total"] = "bool"
    return frame.astype(types)


def csv_table(content: bytes, metadata: dict[str, Any]) -> pd.DataFrame:
    """A release's CSV extract (as downloaded) as a DataFrame of the same columns."""
    text = content.decode("utf-8-sig")
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    times = [c for c in frame.columns if c in TIME]
    coded = [c for c in frame.columns if f"{c}_label" in frame.columns]
    for name in (*NUMBERS, *times):
        frame[name] = pd.to_numeric(frame[name].replace("", None)).astype("Int64")
    for name in ("suppressed", "total"):
        frame[name] = frame[name] == "true"
    for name in ("reason", "total_over"):
        frame[name] = frame[name].replace("", None).astype("string")
    frame = _typed(frame, coded)
    frame.attrs = {name: epsilon(v) if name in EPSILONS else v for name, v in metadata.items()}
    grouped = str(metadata.get("group_by", "")).split()  # X-Amaan-Group-By, in column order
    frame.attrs["group_by"] = grouped or [c for c in frame.columns if c in coded or c in TIME]
    return frame


def listing(items: list[dict[str, Any]]) -> pd.DataFrame:
    """``releases()``: one row per release, newest first, ε exact, times as datetimes."""
    frame = pd.DataFrame(items)
    if frame.empty:
        return frame
    frame["epsilon"] = frame["epsilon"].map(epsilon)
    frame["released_at"] = pd.to_datetime(frame["released_at"], utc=True)
    return frame
