"""Splitting a CSV file into byte ranges that start and end on record boundaries.

A newline ends a record unless it lies inside a quoted field, i.e. unless an odd number of
quote characters precede it (CSV escapes a quote by doubling it, which keeps the parity).
One pass reads the file in blocks, counts quotes, cuts where the parity is even, and computes
the file's SHA-256 on the way. A stretch longer than the record limit with no record end in
it (one huge line, an unclosed quote, CR-only line endings) is refused as soon as it is seen,
so a hostile file costs one pass at most and never a range held in memory whole.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from etl.errors import LoadRefused
from etl.records import ReadLimits, no_record_end

BLOCK = 8 << 20
FEW = 16


def _cut(block: bytes, odd_before: bool) -> int | None:
    """The last newline in ``block`` outside quotes (index after it), if any."""
    end = len(block)
    for _ in range(FEW):  # usually the last newline or one just before it
        nl = block.rfind(b"\n", 0, end)
        if nl < 0:
            return None
        odd = (block.count(b'"', 0, nl) % 2 == 1) != odd_before
        if not odd:
            return nl + 1
        end = nl
    # Many newlines inside quotes (a long quoted field, or a quote left open): all at once.
    arr = np.frombuffer(block, dtype=np.uint8)[:end]
    lfs = np.flatnonzero(arr == ord("\n"))
    before = np.searchsorted(np.flatnonzero(arr == ord('"')), lfs) + int(odd_before)
    outside = lfs[before % 2 == 0]
    return int(outside[-1]) + 1 if len(outside) else None


def split(
    path: Path, data_start: int, limits: ReadLimits, block: int = BLOCK
) -> tuple[list[tuple[int, int]], str]:
    """Byte ranges covering the records after the header, and the whole file's SHA-256."""
    digest = hashlib.sha256()
    ranges: list[tuple[int, int]] = []
    start = data_start
    offset = 0
    odd = False  # quotes seen so far from ``start``, mod 2
    with path.open("rb") as fh:
        head = fh.read(data_start)
        digest.update(head)
        offset = data_start
        while chunk := fh.read(block):
            digest.update(chunk)
            cut = _cut(chunk, odd)
            if cut is not None and offset + cut > start:
                ranges.append((start, offset + cut))
                start = offset + cut
                odd = chunk.count(b'"', cut) % 2 == 1
            else:
                odd = odd != (chunk.count(b'"') % 2 == 1)
                if offset + len(chunk) - start > limits.max_record_bytes:
                    _refuse_long_record(path, start, limits)
            offset += len(chunk)
    if offset > start:
        ranges.append((start, offset))
    return ranges, digest.hexdigest()


def _refuse_long_record(path: Path, start: int, limits: ReadLimits) -> None:
    with path.open("rb") as fh:
        fh.seek(start)
        data = fh.read(limits.max_record_bytes + 1)
    raise LoadRefused(f"{no_record_end(data, limits)}: no record ends after byte {start:,}")
