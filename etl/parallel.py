"""Parsing and transforming ranges of the export in worker processes, results in order.

At most two ranges per worker are in flight, so memory stays bounded by the range size, not
the file. Small files are handled in the calling process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from etl.codes import CodeBook, build_codebook
from etl.reader import read_range
from etl.records import ReadLimits
from etl.transform import Limits, Rules, Transformed, transform_chunk


@dataclass(frozen=True)
class RangeJob:
    path: Path
    width: int
    places: list[tuple[str, int | None]]
    key: bytes
    limits: Limits
    aliases: Path | None
    today: date
    rules: Rules
    read_limits: ReadLimits


@dataclass
class RangeResult:
    end: int  # byte offset where the range ends
    records: int
    transformed: Transformed


@cache
def _codebook(aliases: Path | None) -> CodeBook:
    return build_codebook(aliases)


def process_range(job: RangeJob, start: int, end: int) -> RangeResult:
    chunk = read_range(job.path, start, end, job.width, job.places, job.read_limits)
    t = transform_chunk(chunk, _codebook(job.aliases), job.key, job.limits, job.today, job.rules)
    return RangeResult(end, chunk.size, t)


@dataclass
class Pool:
    executor: ProcessPoolExecutor
    workers: int


@contextmanager
def worker_pool(ranges: int, workers: int | None = None) -> Iterator[Pool | None]:
    """A pool when the file is big enough to gain from one; open it before any DB connection."""
    workers = workers or os.cpu_count() or 1
    if ranges < 3 or workers < 2:
        yield None
        return
    executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    try:
        yield Pool(executor, workers)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def results(
    job: RangeJob, ranges: list[tuple[int, int]], pool: Pool | None
) -> Iterator[RangeResult]:
    if pool is None:
        for start, end in ranges:
            yield process_range(job, start, end)
        return
    in_flight: deque[Future[RangeResult]] = deque()
    for start, end in ranges:
        in_flight.append(pool.executor.submit(process_range, job, start, end))
        if len(in_flight) >= 2 * pool.workers:
            yield in_flight.popleft().result()
    while in_flight:
        yield in_flight.popleft().result()
