"""Deciding one distinct raw value of a column: the value to load, or the reason to reject.

Numbers are ASCII digits only: ``str.isdigit`` and ``\\d`` accept Urdu and other Unicode
digits (and superscripts, which ``int`` then refuses), so they are never used to validate.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from etl.codes import fold
from etl.countries import ISO_ALPHA2
from schema.codelists import codelists
from schema.facts import month_index

FIRST_DATE = date(2016, 1, 1)
AGE_BANDS = ((17, "U18"), (30, "18_30"), (45, "31_45"), (60, "46_60"), (120, "60P"))
DIGITS = "0123456789"
_DATE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})(?:[ T][0-9].*)?", re.DOTALL)
BLANK = "required value is blank"
NOT_CODED = "not a code or label of the code list"
OUTSIDE = "date outside the period the load declares it covers (--covers)"

# A decision for one distinct raw value: (value to load, reason to reject or None).
Decision = tuple[Any, str | None]


def positions(dimension: str) -> dict[str, int]:
    return {code: i for i, code in enumerate(codelists()[dimension].code_list())}


def code(dimension: str, lookup: dict[str, str], blank_as: str | None) -> Callable[[str], Decision]:
    at = positions(dimension)

    def decide(raw: str) -> Decision:
        text = fold(raw)
        if not text:
            return (at[blank_as], None) if blank_as else (None, BLANK)
        code = lookup.get(text)
        return (at[code], None) if code else (None, NOT_CODED)

    return decide


def country(lookup: dict[str, str]) -> Callable[[str], Decision]:
    at = positions("country")

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


def city(lookup: dict[str, str]) -> Callable[[str], Decision]:
    at = positions("city")

    def decide(raw: str) -> Decision:
        text = fold(raw)
        return at[lookup.get(text, "OTHER") if text else "UNK"], None

    return decide


def _date_part(raw: str) -> str:
    """The date part of a value; a malformed time part makes the whole value invalid."""
    text = raw.strip()
    if len(text) <= 10:
        return text
    if text[10] in " T" and len(text) > 11 and text[11] in DIGITS:
        return text[:10]
    return "!" + text  # never a date


def date_parts(values: Sequence[str]) -> list[str]:
    return [v if len(v) == 10 else _date_part(v) for v in values]


def received_on(today: date, months: tuple[int, int] | None) -> Callable[[str], Decision]:
    def decide(raw: str) -> Decision:
        text = raw.strip()
        if not text:
            return None, BLANK
        m = _DATE.fullmatch(text)
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
        month = month_index(day.year, day.month)
        if months is not None and not months[0] <= month <= months[1]:
            return None, OUTSIDE
        return (day.toordinal(), month), None

    return decide


def age(raw: str) -> Decision:
    at = positions("age_band")
    text = raw.strip()
    if not text:
        return at["UNK"], None
    if not (text.isascii() and text.isdigit()) or len(text) > 3:
        return None, "not a whole number of years"
    years = int(text)
    for top, band in AGE_BANDS:
        if years <= top:
            return at[band], None
    return None, "age above 120"


def multi(dimension: str, lookup: dict[str, str], limit: int) -> Callable[[str], Decision]:
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
