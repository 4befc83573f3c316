"""L1 sensitivity of a histogram of case counts, from the dataset's contribution bounds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def l1_sensitivity(
    max_cases_per_person: int,
    values_per_case: Mapping[str, int],
    grouped: Iterable[str],
) -> int:
    """How far one person can move the histogram, in L1 distance.

    A person adds at most ``max_cases_per_person`` cases; a case adds 1 to one cell, or, when
    grouped by multi-valued dimensions, to one cell per combination of the values it holds:
    at most the product of each grouped multi-valued dimension's limit.
    """
    if max_cases_per_person < 1:
        raise ValueError("max_cases_per_person must be at least 1")
    sensitivity = max_cases_per_person
    for dimension in set(grouped):
        limit = values_per_case.get(dimension, 1)
        if limit < 1:
            raise ValueError(f"values per case for {dimension} must be at least 1")
        sensitivity *= limit
    return sensitivity
