"""The contribution bound, computed on disk-backed partitions of the batch.

Cases arrive as five integers (record number, 64-bit pseudonym, day, packed values, case
reference hash). They are appended to temporary bucket files split by the pseudonym's top
bits, so every case of one person lands in the same bucket (``etl.dedupe`` first partitions
them the same way by case reference, to skip cases loaded before). Each bucket is then small
enough to bound in memory: sort by (person, day, record), rank within the person, add what
the person contributed in earlier batches, keep ranks under the limit. Memory is bounded by
the bucket size, not by the file; the files hold no identifier and are deleted when the load
ends.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CASE = np.dtype(
    [("seq", "<i8"), ("pseudonym", "<i8"), ("day", "<i4"), ("combo", "<i8"), ("ref", "<i8")]
)
BUCKET_BYTES = 16 << 20  # about 600,000 cases per bucket


@dataclass
class BoundResult:
    """One bucket's outcome: facts to add and per-person counts to write."""

    combos: np.ndarray  # distinct packed values of the kept cases
    counts: np.ndarray  # kept cases per value
    new_pids: np.ndarray  # people seen for the first time, and their kept counts
    new_cases: np.ndarray
    seen_pids: np.ndarray  # people seen before who gained cases, and their new totals
    seen_cases: np.ndarray
    cut: int


@dataclass
class Buckets:
    """Temporary files holding the staged cases, partitioned by one 64-bit hash field."""

    count: int
    directory: Path
    files: list[Path] = field(default_factory=list)
    by: str = "pseudonym"

    @classmethod
    def for_size(cls, expected_cases: int, directory: Path, by: str = "pseudonym") -> Buckets:
        bits = max(0, math.ceil(math.log2(max(1, expected_cases * CASE.itemsize / BUCKET_BYTES))))
        count = 1 << bits
        files = [directory / f"{by}-{i:04d}.bin" for i in range(count)]
        for f in files:
            f.touch(mode=0o600)
        return cls(count, directory, files, by)

    def bucket_of(self, pids: np.ndarray) -> np.ndarray:
        if self.count == 1:
            return np.zeros(len(pids), dtype=np.int64)
        shift = 64 - (self.count.bit_length() - 1)
        return (pids.view(np.uint64) >> np.uint64(shift)).astype(np.int64)

    def range_of(self, bucket: int) -> tuple[int, int]:
        """The pseudonyms of a bucket, as an inclusive signed range."""
        if self.count == 1:
            return -(1 << 63), (1 << 63) - 1
        # Buckets split the unsigned range; each half maps onto one sign without wrapping.
        width = 1 << (64 - (self.count.bit_length() - 1))
        lo = bucket * width
        hi = lo + width - 1
        return _signed(lo), _signed(hi)

    def append(self, cases: dict[str, np.ndarray]) -> None:
        rows = np.empty(len(cases["seq"]), dtype=CASE)
        for name in CASE.names or ():
            rows[name] = cases[name]
        self.append_rows(rows)

    def append_rows(self, rows: np.ndarray) -> None:
        which = self.bucket_of(rows[self.by])
        for b in np.unique(which):
            with self.files[b].open("ab") as fh:
                rows[which == b].tofile(fh)

    def read(self, bucket: int) -> np.ndarray:
        return np.fromfile(self.files[bucket], dtype=CASE)


def _signed(u: int) -> int:
    return u - (1 << 64) if u >= 1 << 63 else u


def bound_bucket(
    cases: np.ndarray, prior_pids: np.ndarray, prior_cases: np.ndarray, limit: int
) -> BoundResult:
    """Keep each person's earliest cases, so that earlier batches plus these stay ``limit``."""
    order = np.lexsort((cases["seq"], cases["day"], cases["pseudonym"]))
    ordered = cases[order]
    pid = ordered["pseudonym"]
    starts = np.flatnonzero(np.r_[True, pid[1:] != pid[:-1]])
    group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(pid)]))
    rank = np.arange(len(pid)) - starts[group]
    people = pid[starts]
    if len(prior_pids):
        at = np.minimum(np.searchsorted(prior_pids, people), len(prior_pids) - 1)
        known = prior_pids[at] == people
        before = np.where(known, prior_cases[at], 0)
    else:
        known = np.zeros(len(people), dtype=bool)
        before = np.zeros(len(people), dtype=np.int64)
    keep = rank + before[group] < limit
    kept_per_person = np.bincount(group[keep], minlength=len(people))
    combos, counts = np.unique(ordered["combo"][keep], return_counts=True)
    gained = known & (kept_per_person > 0)
    return BoundResult(
        combos=combos,
        counts=counts,
        new_pids=people[~known & (kept_per_person > 0)],
        new_cases=kept_per_person[~known & (kept_per_person > 0)],
        seen_pids=people[gained],
        seen_cases=before[gained] + kept_per_person[gained],
        cut=int((~keep).sum()),
    )


def bounded(
    buckets: Buckets,
    prior: Callable[[int, int], tuple[np.ndarray, np.ndarray]],
    limit: int,
) -> Iterator[BoundResult]:
    """Bound every bucket; ``prior(lo, hi)`` gives earlier counts for pseudonyms in a range."""
    for b in range(buckets.count):
        cases = buckets.read(b)
        if len(cases) == 0:
            continue
        pids, counts = prior(*buckets.range_of(b))
        yield bound_bucket(cases, pids, counts, limit)


def temporary_directory() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="amaan-load-")
