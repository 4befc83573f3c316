"""What a summary can be asked: questions, roll-ups, and the answers it gives."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

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
