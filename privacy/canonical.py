"""The canonical form of a query and its cache key, and strict parsing of what callers send.

Order of dimensions, filters and values, duplicate values, JSON key order and the letter case
of codes do not change the key; any change of meaning does. The key holds the ε of the release,
never the confidence of its intervals: intervals are post-processing of the stored noisy
values, so asking again at another confidence returns the same numbers for free. A query asked
by margin of error is keyed by the ε that margin costs.

Everything a caller sends is ASCII and strictly parsed: ``int("٢٠١٠")`` and ``re``'s ``\\d``
accept other scripts' digits, and ``"ı".upper()`` is ``"I"``, so neither is trusted here.
A filter may name a code by its English label, matched in any letter case with runs of
spaces folded (``fold_label``); only ASCII text is folded, so a label spelled with a
lookalike from another script is refused, never matched. The form holds the code.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from privacy.errors import MalformedQuery
from privacy.loss import Epsilon

_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])", re.ASCII)
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}", re.ASCII)
_NAME = re.compile(r"[A-Za-z][A-Za-z_]{0,39}", re.ASCII)
MAX_FILTERS = 20
MAX_VALUES = 1000  # codes named by one filter (months over decades stay well under it)
MAX_GROUP_BY = 10
CONFIDENCE_RANGE = "greater than 0.5 and less than 1, for example 0.95"
MAX_MARGIN = 100_000  # cases; a wider margin is no table anyone can use
MARGIN_RANGE = f"a number of cases from 1 to {MAX_MARGIN:,}"


@dataclass(frozen=True)
class CanonicalQuery:
    form: dict[str, Any]

    @property
    def key(self) -> str:
        if self.form["epsilon_micro"] is None:
            raise ValueError("a query is keyed by its epsilon; plan it first")
        text = json.dumps(self.form, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(text.encode("ascii")).hexdigest()

    @property
    def group_by(self) -> list[str]:
        return list(self.form["group_by"])

    @property
    def filters(self) -> dict[str, list[str]]:
        filters: dict[str, list[str]] = self.form["filters"]
        return filters

    @property
    def period(self) -> tuple[str | None, str | None]:
        return self.form["period"]["from"], self.form["period"]["to"]

    def with_epsilon(self, epsilon: Epsilon) -> CanonicalQuery:
        return replace(self, form={**self.form, "epsilon_micro": epsilon.micro})


ASCII_SPACE = " \t"


def _text(value: object, pattern: re.Pattern[str], field: str, what: str) -> str:
    # Only ASCII spaces are trimmed: str.strip() would also take "F\u00a0" for "F".
    text = value.strip(ASCII_SPACE) if isinstance(value, str) else None
    if text is None or not pattern.fullmatch(text):
        raise MalformedQuery(f"{field}: {what}", field=field)
    return text


def _month(value: object, field: str) -> str | None:
    if value is None:
        return None
    return _text(value, _MONTH, field, "a month is written YYYY-MM, such as 2024-03")


def _name(value: object, field: str) -> str:
    return _text(value, _NAME, field, "a dimension name, such as gender").lower()


def _code(value: object, field: str) -> str:
    what = "a code is 1 to 40 ASCII letters, digits, '_' or '-', such as GM or 2024-Q1"
    return _text(value, _CODE, field, what).upper()


def fold_label(text: str) -> str | None:
    """A label as it is matched: ASCII only (None otherwise), any case, spaces folded.
    ``str.lower`` and ``str.split`` touch only ASCII letters and spaces in ASCII text."""
    return " ".join(text.split()).lower() if text.isascii() else None


def _value(value: object, name: str, labels: Mapping[str, str] | None) -> str:
    """A filter value as its code: an English label of the dimension, or a code."""
    if labels is not None and isinstance(value, str):
        found = labels.get(fold_label(value) or "")
        if found is not None:
            return found
    try:
        return _code(value, "filters.values")
    except MalformedQuery:
        if labels is None:
            raise
    shown = value[:40] if isinstance(value, str) else value
    raise MalformedQuery(
        f"unknown {name} code or label: {shown!r}",
        field="filters.values",
        dimension=name,
        valid=list(dict.fromkeys(labels.values())),
    )


def parse_confidence(value: object) -> float:
    """The confidence of intervals: a number strictly between 0.5 and 1."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedQuery(
            f"confidence must be a number {CONFIDENCE_RANGE}",
            field="confidence",
            valid=CONFIDENCE_RANGE,
        )
    number = float(value)
    if not (math.isfinite(number) and 0.5 < number < 1):
        raise MalformedQuery(
            f"confidence must be {CONFIDENCE_RANGE}, not {value!r}",
            field="confidence",
            valid=CONFIDENCE_RANGE,
        )
    return number


def parse_margin(value: object) -> float:
    """A target margin of error: a number of cases from 1 to ``MAX_MARGIN``."""
    number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0
    if not (math.isfinite(number) and 1 <= number <= MAX_MARGIN):
        raise MalformedQuery(
            f"margin_of_error must be {MARGIN_RANGE}, not {value!r}",
            field="margin_of_error",
            valid=MARGIN_RANGE,
        )
    return number


def canonicalise(
    *,
    dataset: str,
    version: int,
    group_by: Iterable[str],
    filters: Mapping[str, Iterable[str]] | None = None,
    period: tuple[str | None, str | None] | None = None,
    epsilon: Epsilon | None = None,
    options: Mapping[str, Any] | None = None,
    labels: Mapping[str, Mapping[str, str]] | None = None,
) -> CanonicalQuery:
    """The query's canonical form; ``epsilon`` may come later (``with_epsilon``).
    ``labels`` maps a dimension to its labels (folded by ``fold_label``) and their codes."""
    grouped = list(group_by)
    if len(grouped) > MAX_GROUP_BY:
        raise MalformedQuery(f"group_by: at most {MAX_GROUP_BY} dimensions", field="group_by")
    names = sorted({_name(g, "group_by") for g in grouped})
    if len(filters or {}) > MAX_FILTERS:
        raise MalformedQuery(f"filters: at most {MAX_FILTERS} filters", field="filters")
    clean: dict[str, set[str]] = {}
    for dimension, values in (filters or {}).items():
        name = _name(dimension, "filters.dimension")
        given = list(values)
        if not given:
            raise MalformedQuery(f"the filter on {name} lists no values", field="filters.values")
        if len(given) > MAX_VALUES:
            raise MalformedQuery(
                f"the filter on {name} names more than {MAX_VALUES} values", field="filters.values"
            )
        known = (labels or {}).get(name)
        clean.setdefault(name, set()).update(_value(v, name, known) for v in given)
    start, end = period if period else (None, None)
    start, end = _month(start, "period.from"), _month(end, "period.to")
    if start and end and start > end:
        raise MalformedQuery("period from must not be after period to", field="period")
    form: dict[str, Any] = {
        "dataset": dataset.strip().lower(),
        "version": int(version),
        "group_by": names,
        "filters": {name: sorted(codes) for name, codes in sorted(clean.items())},
        "period": {"from": start, "to": end},
        "epsilon_micro": epsilon.micro if epsilon is not None else None,
        "options": dict(sorted((options or {}).items())),
    }
    return CanonicalQuery(form)
