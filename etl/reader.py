"""Reading the raw export: the header, then ranges of records.

Only the columns the pipeline needs are kept from each record; the identifying columns
(except the contact key, which is pseudonymised at once) never enter a chunk.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from etl.errors import LoadRefused

REQUIRED = ("received_on", "contact_key", "complaint_type", "gender")
OPTIONAL = (
    "channel",
    "platform",
    "province",
    "country",
    "age",
    "city",
    "vulnerable_groups",
    "referrals",
)
KEPT = REQUIRED + OPTIONAL
IDENTIFYING = (
    "case_ref",
    "complainant_name",
    "phone",
    "email",
    "cnic",
    "address",
    "case_notes",
    "officer",
)

csv.field_size_limit(1 << 20)


@dataclass
class Chunk:
    first_row: int  # record number of the chunk's first record; the header is record 1
    columns: Mapping[str, Sequence[str]]
    bad_rows: list[int]  # record numbers whose field count differs from the header's

    @property
    def size(self) -> int:
        return len(next(iter(self.columns.values())))


def _check_looks_like_text(raw: BinaryIO) -> None:
    head = raw.read(65536)
    raw.seek(0)
    if not head.strip(b"\xef\xbb\xbf \t\r\n"):
        raise LoadRefused("the file is empty")
    if b"\x00" in head:
        raise LoadRefused("the file is not a CSV export (it holds binary data)")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a cut multi-byte character at the end is fine
            raise LoadRefused("the file is not UTF-8 text; export the CSV as UTF-8") from exc


def _header_end(head: bytes) -> int:
    """Byte offset just after the header record (its first newline outside quotes)."""
    at = 0
    while True:
        nl = head.find(b"\n", at)
        if nl < 0:
            return len(head)
        if head.count(b'"', 0, nl) % 2 == 0:
            return nl + 1
        at = nl + 1


class ExportReader:
    """Checks an export's header on open; ``read_range`` then reads its records in parallel."""

    HEAD_BYTES = 1 << 20

    def __init__(self, path: Path) -> None:
        self.path = path
        with path.open("rb") as raw:
            _check_looks_like_text(raw)
            head = raw.read(self.HEAD_BYTES)
        self.data_start = _header_end(head)
        try:
            text = head[: self.data_start].decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise LoadRefused("the file is not UTF-8 text; export the CSV as UTF-8") from exc
        try:
            header = next(csv.reader(io.StringIO(text, newline=""), strict=True), None)
        except csv.Error as exc:
            raise LoadRefused(f"the header is not valid CSV: {exc}") from exc
        if header is None or not any(h.strip() for h in header):
            raise LoadRefused("the file is empty")
        self.header = [h.strip().lower() for h in header]
        duplicates = sorted({h for h in self.header if self.header.count(h) > 1 and h})
        if duplicates:
            raise LoadRefused(f"the header names a column twice: {', '.join(duplicates)}")
        missing = [c for c in REQUIRED if c not in self.header]
        if missing:
            raise LoadRefused(
                "missing required column(s): "
                + ", ".join(missing)
                + f" (the header has {len(self.header)} column(s); is this the case export?)"
            )
        self.dropped = [h for h in self.header if h not in KEPT]
        self.places = [(c, self.header.index(c) if c in self.header else None) for c in KEPT]


def read_range(
    path: Path, start: int, end: int, width: int, places: list[tuple[str, int | None]]
) -> Chunk:
    """The records in bytes ``start:end``, numbered as if the range began at record 2."""
    with path.open("rb") as fh:
        fh.seek(start)
        data = fh.read(end - start)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LoadRefused(f"the file is not UTF-8 text (near byte {start + exc.start:,})") from exc
    try:
        records = [r for r in csv.reader(io.StringIO(text, newline=""), strict=True) if r]
    except csv.Error as exc:
        raise LoadRefused(f"the file is not valid CSV (after byte {start:,}): {exc}") from exc
    bad = [i + 2 for i, r in enumerate(records) if len(r) != width]
    for number in bad:
        records[number - 2] = [""] * width
    blank = [""] * len(records)
    cols = {c: ([r[i] for r in records] if i is not None else blank) for c, i in places}
    return Chunk(2, cols, bad)
