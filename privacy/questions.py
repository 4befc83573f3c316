"""What a summary can be asked: questions, roll-ups, and the answers it gives."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from privacy.errors import MalformedQuery

TIME = ("month", "quarter", "year")


@dataclass(frozen=True)
class Rollup:
    """A public roll-up dimension: each base code belongs to one of its codes."""

    dimension: str
    base: str
    codes: tuple[str, ...]
    parent: Mapping[str, str]


@dataclass(frozen=True)
class Question:
    """A table asked of a summary: grouped dimensions (a roll-up or a time grain counts as
    one), filters on any dimension by codes, and a period of covered months."""

    group_by: tuple[str, ...]
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    months: tuple[str, ...] | None = None  # the period; None: every month the summary covers


@dataclass(frozen=True)
class Answer:
    group_by: tuple[str, ...]
    keys: tuple[tuple[str, ...], ...]
    shown: np.ndarray  # whole, >= 0, consistent with every other answer of the summary
    value: np.ndarray  # the unrounded reconciled estimates
    lower: np.ndarray
    upper: np.ndarray
    confidence: float
    # Per cell, the half-width of its interval from the noise law alone (no value in it):
    # public, the same whatever the data.
    half_width: np.ndarray | None = None


def quarter_of(month: str) -> str:
    return f"{month[:4]}-Q{(int(month[5:]) - 1) // 3 + 1}"


def time_label(grain: str) -> Callable[[str], str]:
    """A month's ("YYYY-MM") code at a time grain: itself, its quarter or its year."""
    if grain == "month":
        return str
    if grain == "quarter":
        return quarter_of
    if grain == "year":
        return lambda month: month[:4]
    raise ValueError(f"no time grain {grain}")


def base_of(dim: str, codes: Mapping[str, tuple[str, ...]], rollups: Mapping[str, Rollup]) -> str:
    """The measured dimension a question's dimension is read from (itself or its base)."""
    if dim in codes:
        return dim
    if dim in rollups and rollups[dim].base in codes:
        return rollups[dim].base
    raise MalformedQuery(
        f"the summary holds no dimension {dim}",
        field="group_by",
        valid=sorted([*codes, *rollups, *TIME]),
    )


def check(
    q: Question,
    months: Sequence[str],
    codes: Mapping[str, tuple[str, ...]],
    rollups: Mapping[str, Rollup],
) -> tuple[str, ...]:
    """The months a question reads, once its dimensions, codes and period are valid."""
    chosen = tuple(months) if q.months is None else tuple(q.months)
    outside = sorted(set(chosen) - set(months))
    if outside or not chosen:
        raise MalformedQuery(
            "the period must lie within the months the summary covers"
            + (f"; not covered: {', '.join(outside[:5])}" if outside else ""),
            field="period",
            valid=f"{months[0]} to {months[-1]}",
        )
    if len([d for d in q.group_by if d in TIME]) > 1:
        raise MalformedQuery("group by at most one of month, quarter and year", field="group_by")
    bases = [base_of(d, codes, rollups) for d in q.group_by if d not in TIME]
    if len(set(bases)) != len(bases):
        raise MalformedQuery(
            "group by one form of each dimension (not both a code and its roll-up)",
            field="group_by",
        )
    for d, values in q.filters.items():
        if d in TIME:
            raise MalformedQuery("restrict time with the period, not a filter", field="filters")
        base_of(d, codes, rollups)  # names the valid dimensions when d is none of them
        valid = codes[d] if d in codes else rollups[d].codes
        bad = [v for v in values if v not in valid]
        if bad or not values:
            raise MalformedQuery(
                f"unknown codes for {d}: {', '.join(bad)}" if bad else f"no values for {d}",
                field="filters.values",
                valid=list(valid),
            )
    return chosen
