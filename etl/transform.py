"""Validate and generalise one chunk of raw records into case rows for staging.

A raw export repeats a small number of distinct spellings (codes, labels, dates, lists), so
every column is decided once per distinct value and broadcast back to the rows. A case leaves
as four integers: its record number, its 64-bit pseudonym, its day and its packed dimension
values (``schema.facts``).

A rejected row is reported by record number, column and reason only: no value from the file
is ever repeated, since a shifted column can put a phone number where a code should be.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from etl.codes import CodeBook, fold
from etl.countries import ISO_ALPHA2
from etl.pseudonym import pseudonymise
from etl.reader import Chunk
from schema.codelists import codelists
from schema.facts import decode, encode, month_index

FIRST_DATE = date(2016, 1, 1)
AGE_BANDS = ((17, "U18"), (30, "18_30"), (45, "31_45"), (60, "46_60"), (120, "60P"))
BLANK_AS = {"channel": "OTHER", "platform": "NONE_UNK", "province": "UNK", "country": "UNK"}
STAGED_COLUMNS = ["seq", "pseudonym", "day", "combo"]
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T]\d.*)?$")
BLANK = "required value is blank"
NOT_CODED = "not a code or label of the code list"

# A decision for one distinct raw value: (value to load, reason to reject or None).
Decision = tuple[Any, str | None]


@dataclass(frozen=True)
class Limits:
    """The most values one case keeps per multi-valued dimension."""

    vulnerable_group: int
    referral: int


@dataclass
class Transformed:
    cases: dict[str, np.ndarray]  # STAGED_COLUMNS, one int64 array each
    rejects: pd.DataFrame  # row, column, reason
    values_cut: int

    def __len__(self) -> int:
        return len(self.cases["seq"])

    def rows(self) -> list[dict[str, object]]:
        """The cases as readable fact columns (for tests and debugging)."""
        decoded = decode(self.cases["combo"])
        return [{k: v[i] for k, v in decoded.items()} for i in range(len(self))]


def _decide(
    values: Sequence[str], decide: Callable[[str], Decision]
) -> tuple[np.ndarray, np.ndarray | None]:
    """Apply ``decide`` once per distinct value; return loaded values and reasons per row.

    The reasons are ``None`` when every row passed (the common case).
    """
    memo = {u: decide(u) for u in set(values)}
    loaded = np.empty(len(values), dtype=object)
    loaded[:] = [memo[v][0] for v in values]
    if all(d[1] is None for d in memo.values()):
        return loaded, None
    reasons = np.empty(len(values), dtype=object)
    reasons[:] = [memo[v][1] for v in values]
    return loaded, reasons


def _positions(dimension: str) -> dict[str, int]:
    return {code: i for i, code in enumerate(codelists()[dimension].code_list())}


def _code(
    dimension: str, lookup: dict[str, str], blank_as: str | None
) -> Callable[[str], Decision]:
    at = _positions(dimension)

    def decide(raw: str) -> Decision:
        text = fold(raw)
        if not text:
            return (at[blank_as], None) if blank_as else (None, BLANK)
        code = lookup.get(text)
        return (at[code], None) if code else (None, NOT_CODED)

    return decide


def _country(lookup: dict[str, str]) -> Callable[[str], Decision]:
    at = _positions("country")

    def decide(raw: str) -> Decision:
        text = fold(raw)
        if not text:
            return at["UNK"], None
        code = lookup.get(text)
        if code:
            return at[code], None
        if text.upper() in ISO_ALPHA2:
            return at["OTHER"], None
        return None, "not an ISO 3166 country code or a listed country"

    return decide


def _city(lookup: dict[str, str]) -> Callable[[str], Decision]:
    at = _positions("city")

    def decide(raw: str) -> Decision:
        text = fold(raw)
        return at[lookup.get(text, "OTHER") if text else "UNK"], None

    return decide


def _date_part(raw: str) -> str:
    """The date part of a value; a malformed time part makes the whole value invalid."""
    text = raw.strip()
    if len(text) <= 10:
        return text
    if text[10] in " T" and text[11:12].isdigit():
        return text[:10]
    return "!" + text  # never a date


def _date_parts(values: Sequence[str]) -> list[str]:
    return [v if len(v) == 10 else _date_part(v) for v in values]


def _date(today: date) -> Callable[[str], Decision]:
    def decide(raw: str) -> Decision:
        text = raw.strip()
        if not text:
            return None, BLANK
        m = _DATE.match(text)
        try:
            day = date.fromisoformat(m.group(1)) if m else None
        except ValueError:
            day = None
        if day is None:
            return None, "not a valid date (YYYY-MM-DD)"
        if day < FIRST_DATE:
            return None, f"date before {FIRST_DATE.isoformat()}"
        if day > today:
            return None, "date in the future"
        return (day.toordinal(), month_index(day.year, day.month)), None

    return decide


def _age(raw: str) -> Decision:
    at = _positions("age_band")
    text = raw.strip()
    if not text:
        return at["UNK"], None
    if not text.isdigit() or len(text) > 3:
        return None, "not a whole number of years"
    years = int(text)
    for top, band in AGE_BANDS:
        if years <= top:
            return at[band], None
    return None, "age above 120"


def _multi(dimension: str, lookup: dict[str, str], limit: int) -> Callable[[str], Decision]:
    """Decide a ``;``-separated list: (bit mask of the kept values, values cut), reason."""
    order = codelists()[dimension].code_list()

    def decide(raw: str) -> Decision:
        found: set[int] = set()
        for token in raw.split(";"):
            text = fold(token)
            if not text:
                continue
            code = lookup.get(text)
            if code is None:
                return None, NOT_CODED
            found.add(order.index(code))
        if dimension == "referral" and len(found) > 1 and order.index("NONE") in found:
            return None, "NONE together with other referrals"
        ranked = sorted(found)
        mask = sum(1 << i for i in ranked[:limit])
        return (mask, max(0, len(ranked) - limit)), None

    return decide


def transform_chunk(
    chunk: Chunk, book: CodeBook, key: bytes, limits: Limits, today: date | None = None
) -> Transformed:
    cols = chunk.columns
    rows = np.arange(chunk.first_row, chunk.first_row + chunk.size)
    decisions: dict[str, Callable[[str], Decision]] = {
        "received_on": _date(today or date.today()),
        "age": _age,
        "city": _city(book.lookup("city")),
        "country": _country(book.lookup("country")),
        "vulnerable_groups": _multi(
            "vulnerable_group", book.lookup("vulnerable_group"), limits.vulnerable_group
        ),
        "referrals": _multi("referral", book.lookup("referral"), limits.referral),
    }
    for dim in ("complaint_type", "gender", "channel", "platform", "province"):
        decisions[dim] = _code(dim, book.lookup(dim), BLANK_AS.get(dim))
    loaded: dict[str, np.ndarray] = {}
    problems: list[pd.DataFrame] = []
    bad = np.isin(rows, chunk.bad_rows)
    if bad.any():
        problems.append(
            pd.DataFrame(
                {"row": rows[bad], "column": "*", "reason": "wrong number of fields for the header"}
            )
        )
    blank_contact = np.array([not v.strip() for v in cols["contact_key"]], dtype=bool)
    if blank_contact.any():
        problems.append(
            pd.DataFrame({"row": rows[blank_contact], "column": "contact_key", "reason": BLANK})
        )
    bad |= blank_contact
    inputs = {**cols, "received_on": _date_parts(cols["received_on"])}
    for column, decide in decisions.items():
        values, reasons = _decide(inputs[column], decide)
        if reasons is not None:
            failed = reasons != None  # noqa: E711 (elementwise over an object array)
            problems.append(
                pd.DataFrame({"row": rows[failed], "column": column, "reason": reasons[failed]})
            )
            bad |= failed
        loaded[column] = values
    return _assemble(rows, ~bad, loaded, cols["contact_key"], key, problems)


def _assemble(
    rows: np.ndarray,
    good: np.ndarray,
    loaded: dict[str, np.ndarray],
    contacts: Sequence[str],
    key: bytes,
    problems: list[pd.DataFrame],
) -> Transformed:
    def ints(column: str, part: int | None = None) -> np.ndarray:
        kept = loaded[column][good]
        if part is not None:
            kept = np.array([v[part] for v in kept], dtype=object)
        out: np.ndarray = kept.astype(np.int64)
        return out

    packed = {
        "month": ints("received_on", 1),
        "age_band": ints("age"),
        "vulnerable_group": ints("vulnerable_groups", 0),
        "referral": ints("referrals", 0),
    }
    for dim in ("complaint_type", "gender", "province", "city", "channel", "platform", "country"):
        packed[dim] = ints(dim)
    cases = {
        "seq": rows[good].astype(np.int64),
        "pseudonym": np.array(
            pseudonymise([c for c, ok in zip(contacts, good, strict=True) if ok], key),
            dtype=np.int64,
        ),
        "day": ints("received_on", 0),
        "combo": encode(packed),
    }
    values_cut = int(ints("vulnerable_groups", 1).sum() + ints("referrals", 1).sum())
    rejects = (
        pd.concat(problems, ignore_index=True).sort_values("row", kind="stable")
        if problems
        else pd.DataFrame({"row": [], "column": [], "reason": []})
    )
    return Transformed(cases, rejects, values_cut)
