"""Validate and generalise one chunk of raw records into case rows for staging.

A raw export repeats a small number of distinct spellings (codes, labels, dates, lists), so
every column is decided once per distinct value and broadcast back to the rows.

A rejected row is reported by record number, column and reason only: no value from the file
is ever repeated, since a shifted column can put a phone number where a code should be.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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
from schema.models import FACT_DIMENSIONS

FIRST_DATE = date(2016, 1, 1)
AGE_BANDS = ((17, "U18"), (30, "18_30"), (45, "31_45"), (60, "46_60"), (120, "60P"))
BLANK_AS = {"channel": "OTHER", "platform": "NONE_UNK", "province": "UNK", "country": "UNK"}
REQUIRED_CODES = ("complaint_type", "gender")
STAGED_COLUMNS = ["seq", "pseudonym", "received", *FACT_DIMENSIONS]
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
    cases: pd.DataFrame  # STAGED_COLUMNS
    rejects: pd.DataFrame  # row, column, reason
    values_cut: int


def _decide(values: list[str], decide: Callable[[str], Decision]) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``decide`` once per distinct value; return loaded values and reasons per row."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=False)
    decided = [decide(u) for u in uniques]
    loaded = np.empty(len(decided), dtype=object)
    loaded[:] = [d[0] for d in decided]
    reasons = np.array([d[1] for d in decided], dtype=object)
    return loaded[codes], reasons[codes]


def _code(lookup: dict[str, str], blank_as: str | None) -> Callable[[str], Decision]:
    def decide(raw: str) -> Decision:
        text = fold(raw)
        if not text:
            return (blank_as, None) if blank_as else (None, BLANK)
        code = lookup.get(text)
        return (code, None) if code else (None, NOT_CODED)

    return decide


def _country(lookup: dict[str, str]) -> Callable[[str], Decision]:
    def decide(raw: str) -> Decision:
        text = fold(raw)
        if not text:
            return "UNK", None
        code = lookup.get(text)
        if code:
            return code, None
        if text.upper() in ISO_ALPHA2:
            return "OTHER", None
        return None, "not an ISO 3166 country code or a listed country"

    return decide


def _city(lookup: dict[str, str]) -> Callable[[str], Decision]:
    def decide(raw: str) -> Decision:
        text = fold(raw)
        return (lookup.get(text, "OTHER") if text else "UNK"), None

    return decide


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
        return day.isoformat(), None

    return decide


def _age(raw: str) -> Decision:
    text = raw.strip()
    if not text:
        return "UNK", None
    if not text.isdigit() or len(text) > 3:
        return None, "not a whole number of years"
    years = int(text)
    for top, band in AGE_BANDS:
        if years <= top:
            return band, None
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
        decisions[dim] = _code(book.lookup(dim), BLANK_AS.get(dim))
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
    for column, decide in decisions.items():
        values, reasons = _decide(cols[column], decide)
        failed = reasons != None  # noqa: E711 (elementwise over an object array)
        if failed.any():
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
    contacts: list[str],
    key: bytes,
    problems: list[pd.DataFrame],
) -> Transformed:
    lists = codelists()
    vg = loaded["vulnerable_groups"][good]
    ref = loaded["referrals"][good]
    received = pd.Series(loaded["received_on"][good], dtype=object)
    month = received.str.slice(0, 7)
    quarter = (month.str.slice(5, 7).astype(int) - 1) // 3 + 1
    ctype = pd.Series(loaded["complaint_type"][good], dtype=object)
    city = pd.Series(loaded["city"][good], dtype=object)
    cases = pd.DataFrame(
        {
            "seq": rows[good],
            "pseudonym": pseudonymise([c for c, ok in zip(contacts, good, strict=True) if ok], key),
            "received": received,
            "month": month,
            "quarter": month.str.slice(0, 4) + "-Q" + quarter.astype(str),
            "year": month.str.slice(0, 4),
            "complaint_type": ctype,
            "complaint_group": ctype.map(lists.complaint_group_of()),
            "gender": loaded["gender"][good],
            "age_band": loaded["age"][good],
            "province": loaded["province"][good],
            "city": city,
            "fia_city": city.map(lists.fia_city_of()),
            "channel": loaded["channel"][good],
            "platform": loaded["platform"][good],
            "country": loaded["country"][good],
            "vulnerable_group": [m for m, _ in vg],
            "referral": [m for m, _ in ref],
        }
    )
    values_cut = sum(c for _, c in vg) + sum(c for _, c in ref)
    rejects = (
        pd.concat(problems, ignore_index=True).sort_values("row", kind="stable")
        if problems
        else pd.DataFrame({"row": [], "column": [], "reason": []})
    )
    return Transformed(cases, rejects, int(values_cut))
