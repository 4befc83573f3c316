"""Splitting a CSV file into byte ranges that start and end on record boundaries.

A newline ends a record unless it lies inside a quoted field, i.e. unless an odd number of
quote characters precede it (CSV escapes a quote by doubling it, which keeps the parity).
One pass reads the file in blocks, counts quotes, cuts where the parity is even, and computes
the file's SHA-256 on the way.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

BLOCK = 8 << 20


def _cut(block: bytes, odd_before: bool) -> int | None:
    """The last newline in ``block`` outside quotes (index after it), if any."""
    end = len(block)
    while True:
        nl = block.rfind(b"\n", 0, end)
        if nl < 0:
            return None
        odd = (block.count(b'"', 0, nl) % 2 == 1) != odd_before
        if not odd:
            return nl + 1
        end = nl


def split(path: Path, data_start: int, block: int = BLOCK) -> tuple[list[tuple[int, int]], str]:
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
            offset += len(chunk)
    if offset > start:
        ranges.append((start, offset))
    return ranges, digest.hexdigest()
