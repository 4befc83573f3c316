"""Reading the raw export: the header, then ranges of records.

Only the columns the pipeline needs are kept from each record; the identifying columns
(except the contact key and the case reference, which are hashed at once) never enter a
chunk. Byte-level checks (``etl.records``) make sure every record is read or the file refused.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from etl.errors import LoadRefused
from etl.records import (
    CR_ALONE,
    Layout,
    RangeRefused,
    ReadLimits,
    first_lone_cr,
    layout,
    record_ends,
    record_too_long,
)

REQUIRED = ("received_on", "contact_key", "complaint_type", "gender")
OPTIONAL = (
    "case_ref",
    "consent_to_share",
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
    "complainant_name",
    "phone",
    "email",
    "cnic",
    "address",
    "case_notes",
    "officer",
)
# A column name is shown in the report only if it looks like one: a name typed into a
# header cell, or a data row taken for the header, must not be echoed.
_SHOWN = re.compile(r"[a-z][a-z0-9_ .()/-]{0,39}")


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
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise LoadRefused("the file is UTF-16 text; export the CSV as UTF-8")
    if b"\x00" in head:
        raise LoadRefused("the file is not a CSV export (it holds binary data)")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a cut multi-byte character at the end is fine
            raise LoadRefused("the file is not UTF-8 text; export the CSV as UTF-8") from exc


def shown(name: str) -> bool:
    return bool(_SHOWN.fullmatch(name)) and sum(c.isdigit() for c in name) <= 4


def _names(names: Sequence[str]) -> str:
    """Column names for a message: those that look like names, and how many others."""
    visible = [n for n in names if shown(n)]
    hidden = len(names) - len(visible)
    if hidden:
        visible.append(f"{hidden:,} column(s) whose names are not shown")
    return ", ".join(visible)


class ExportReader:
    """Checks an export's header on open; ``read_range`` then reads its records in parallel."""

    def __init__(self, path: Path, limits: ReadLimits) -> None:
        self.path = path
        with path.open("rb") as raw:
            _check_looks_like_text(raw)
            head = raw.read(limits.max_record_bytes + 1)
        ends = record_ends(head)
        self.data_start = int(ends[0]) + 1 if len(ends) else len(head)
        first = head[: self.data_start]
        if first_lone_cr(first) is not None:
            raise LoadRefused(f"{CR_ALONE} (in the header)")
        if self.data_start > limits.max_record_bytes:
            raise LoadRefused(f"the header: {record_too_long(limits)}")
        try:
            text = first.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise LoadRefused("the file is not UTF-8 text; export the CSV as UTF-8") from exc
        csv.field_size_limit(limits.max_field_chars)
        try:
            header = next(csv.reader(io.StringIO(text, newline=""), strict=True), None)
        except csv.Error as exc:
            raise LoadRefused(f"the header is not valid CSV: {exc}") from exc
        if header is None or not any(h.strip() for h in header):
            raise LoadRefused("the file is empty")
        if len(header) > limits.max_columns:
            raise LoadRefused(
                f"the header has {len(header):,} columns, more than the limit of "
                f"{limits.max_columns:,} (AMAAN_ETL_MAX_COLUMNS)"
            )
        self.header = [h.strip().lower() for h in header]
        duplicates = sorted(h for h, n in Counter(self.header).items() if n > 1 and h)
        if duplicates:
            raise LoadRefused(f"the header names a column twice: {_names(duplicates)}")
        missing = [c for c in REQUIRED if c not in self.header]
        if missing:
            raise LoadRefused(
                "missing required column(s): "
                + ", ".join(missing)
                + f" (the header has {len(self.header)} column(s); is this the case export?)"
            )
        dropped = [h for h in self.header if h not in KEPT]
        self.dropped = [h for h in dropped if shown(h)]
        self.dropped_unnamed = len(dropped) - len(self.dropped)
        self.places = [(c, self.header.index(c) if c in self.header else None) for c in KEPT]


def read_range(
    path: Path,
    start: int,
    end: int,
    width: int,
    places: list[tuple[str, int | None]],
    limits: ReadLimits,
) -> Chunk:
    """The records in bytes ``start:end``, numbered as if the range began at record 2.

    Raises ``RangeRefused`` (offsets relative to the file) when the range cannot be read.
    """
    with path.open("rb") as fh:
        fh.seek(start)
        data = fh.read(end - start)
    try:
        found = layout(data, limits)
    except RangeRefused as exc:
        raise RangeRefused(exc.reason, exc.record, start + exc.offset) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        at = found.record_at(exc.start)
        raise RangeRefused("the file is not UTF-8 text", at, start + exc.start) from None
    records = _parse(text, found, start, limits)
    if len(records) != len(found):
        raise RangeRefused(
            "quote characters do not pair up (a field holds a quote but is not quoted)",
            min(len(records), len(found)),
            start,
        )
    bad = [i + 2 for i, r in enumerate(records) if len(r) != width]
    for number in bad:
        records[number - 2] = [""] * width
    blank = [""] * len(records)
    cols = {c: ([r[i] for r in records] if i is not None else blank) for c, i in places}
    return Chunk(2, cols, bad)


def _parse(text: str, found: Layout, start: int, limits: ReadLimits) -> list[list[str]]:
    csv.field_size_limit(limits.max_field_chars)
    try:
        return [r for r in csv.reader(io.StringIO(text, newline=""), strict=True) if r]
    except csv.Error as exc:
        at = _records_before_error(text)
        offset = start + int(found.starts[min(at, len(found) - 1)]) if len(found) else start
        if str(exc).startswith("field larger than field limit"):
            reason = (
                f"a field is longer than the limit of {limits.max_field_chars:,} characters "
                "(AMAAN_ETL_MAX_FIELD_CHARS)"
            )
        elif str(exc) == "unexpected end of data":
            reason = (
                "a quoted field is never closed (a quote left open, or a quote inside a field "
                "that is not quoted)"
            )
        elif "expected after" in str(exc):
            reason = (
                "a quote inside a quoted field is not doubled, or a quote is left open "
                f"(not valid CSV: {exc})"
            )
        else:
            reason = f"not valid CSV ({exc})"
        raise RangeRefused(reason, at, offset) from None


def _records_before_error(text: str) -> int:
    """How many records parse before the error (parsed again: only on the way to refusing)."""
    n = 0
    try:
        for r in csv.reader(io.StringIO(text, newline=""), strict=True):
            n += bool(r)
    except csv.Error:
        pass
    return n
