"""The canonical form of a query and its cache key.

Order of dimensions, filters and values, duplicate values, JSON key order and the letter case
of codes do not change the key; any change of meaning does.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from privacy.errors import InvalidQuery
from privacy.loss import Epsilon

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class CanonicalQuery:
    form: dict[str, Any]
    key: str

    @property
    def group_by(self) -> list[str]:
        return list(self.form["group_by"])


def _decimal(value: float | str | Decimal, what: str) -> str:
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except InvalidOperation:
        raise InvalidQuery(f"{what} must be a number") from None
    if not number.is_finite():
        raise InvalidQuery(f"{what} must be finite")
    text = format(number.normalize(), "f")
    return text


def _month(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not _MONTH.match(text):
        raise InvalidQuery(f"period {what} must be a month written YYYY-MM, such as 2024-03")
    return text


def canonicalise(
    *,
    dataset: str,
    version: int,
    group_by: Iterable[str],
    filters: Mapping[str, Iterable[str]] | None = None,
    period: tuple[str | None, str | None] | None = None,
    epsilon: Epsilon | None = None,
    margin_of_error: float | str | Decimal | None = None,
    confidence: float | str | Decimal = 0.95,
    options: Mapping[str, Any] | None = None,
) -> CanonicalQuery:
    if (epsilon is None) == (margin_of_error is None):
        raise InvalidQuery("give exactly one of epsilon and margin_of_error")
    clean_filters: dict[str, list[str]] = {}
    for dimension, values in (filters or {}).items():
        name = dimension.strip().lower()
        codes = sorted({v.strip().upper() for v in values})
        if not codes:
            raise InvalidQuery(f"the filter on {name} lists no values")
        clean_filters[name] = sorted(set(clean_filters.get(name, [])) | set(codes))
    start, end = period if period else (None, None)
    start, end = _month(start, "from"), _month(end, "to")
    if start and end and start > end:
        raise InvalidQuery("period from must not be after period to")
    form: dict[str, Any] = {
        "dataset": dataset.strip().lower(),
        "version": int(version),
        "group_by": sorted({g.strip().lower() for g in group_by}),
        "filters": dict(sorted(clean_filters.items())),
        "period": {"from": start, "to": end},
        "epsilon_micro": epsilon.micro if epsilon is not None else None,
        "margin_of_error": (
            _decimal(margin_of_error, "margin_of_error") if margin_of_error is not None else None
        ),
        "confidence": _decimal(confidence, "confidence"),
        "options": dict(sorted((options or {}).items())),
    }
    text = json.dumps(form, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return CanonicalQuery(form, hashlib.sha256(text.encode("ascii")).hexdigest())
