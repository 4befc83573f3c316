"""Skipping cases loaded before, by the keyed hash of their case reference.

A re-export (the same cases with one more newline, or in another order) or a cumulative
export (this month's, repeating last month's) must add only its new cases. Staged cases are
partitioned by case-reference hash into bucket files (as ``etl.bound`` partitions them by
person), so each bucket is checked in memory against the hashes the dataset already holds in
that hash range, read from the database a bucket at a time: memory follows the bucket, not
the file or the dataset. Within a bucket, a reference seen twice in the file keeps its first
record; a reference the dataset already holds is skipped.

This runs before the person bound, so a skipped duplicate never uses up a person's bound.
The hashes of every case that passes (loaded, or cut by the person bound) are recorded, so a
later export counts them as duplicates rather than cutting or loading them again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from etl.bound import Buckets


@dataclass
class Duplicates:
    within_file: int = 0
    loaded_before: int = 0

    @property
    def total(self) -> int:
        return self.within_file + self.loaded_before


def first_new(cases: np.ndarray, prior: np.ndarray) -> tuple[np.ndarray, int, int]:
    """The cases of one bucket whose reference is new: the first record of each, sorted by
    reference; and how many were repeats within the file and how many loaded before."""
    ordered = cases[np.lexsort((cases["seq"], cases["ref"]))]
    refs = ordered["ref"]
    first = np.r_[True, refs[1:] != refs[:-1]] if len(refs) else np.zeros(0, dtype=bool)
    unique = ordered[first]
    if len(prior):
        at = np.minimum(np.searchsorted(prior, unique["ref"]), len(prior) - 1)
        seen = prior[at] == unique["ref"]
    else:
        seen = np.zeros(len(unique), dtype=bool)
    return unique[~seen], int((~first).sum()), int(seen.sum())


def skip_loaded(
    staged: Buckets,
    prior: Callable[[int, int], np.ndarray],
    record: Callable[[np.ndarray], None],
    out: Buckets,
) -> Duplicates:
    """Move the new cases of ``staged`` (by reference) into ``out`` (by person).

    ``prior(lo, hi)`` gives the dataset's recorded hashes in a range, sorted; ``record``
    stores the hashes of the new cases.
    """
    found = Duplicates()
    for b in range(staged.count):
        cases = staged.read(b)
        if len(cases) == 0:
            continue
        new, within, before = first_new(cases, prior(*staged.range_of(b)))
        found.within_file += within
        found.loaded_before += before
        record(new["ref"])
        out.append_rows(new)
        staged.files[b].unlink()  # its cases now live in ``out``
    return found
