"""Byte-level checks of the export, so that every record is either read or the file refused.

CSV records end at a line feed outside quoted fields (a quote that opens a field flips the
parity; a doubled quote inside one keeps it). From the bytes alone, before the CSV parser
runs, this module finds every record end, and so the number of records a range must yield,
each record's length, and any carriage return that ends a line on its own. After parsing,
the parser's record count must match: a stray quote in an unquoted field, which would make
the parser and the range splitter disagree about where records end, is caught there instead
of losing records silently.

Accepted line endings: LF, CRLF, and any mix of the two (every record still ends at an LF).
Refused: a CR alone outside a quoted field (old Mac line endings, or CR mixed with LF), since
the parser would split records there that the splitter cannot see. Inside a quoted field
any CR or LF is data.

Refusals name the limit or problem and where (record number, byte offset), never content.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

QUOTE, LF, CR = 34, 10, 13
CR_ALONE = (
    "a line ends with CR alone (old Mac line endings, or CR mixed with LF): save the export "
    "with LF or CRLF line endings"
)


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on one export; a file past any of them is refused, saying which."""

    max_field_chars: int = 65_536
    max_record_bytes: int = 1 << 20
    max_columns: int = 200


class RangeRefused(Exception):
    """A range of the file cannot be read; ``record`` counts records from the range's start."""

    def __init__(self, reason: str, record: int, offset: int) -> None:
        super().__init__(reason, record, offset)  # all three, so it pickles from a worker
        self.reason = reason
        self.record = record
        self.offset = offset


@dataclass(frozen=True)
class Layout:
    """Where the records of a range start, from its bytes alone."""

    starts: np.ndarray  # offset of each non-blank record, relative to the range
    ends: np.ndarray  # offset just after each (after its LF, or the end of the range)

    def __len__(self) -> int:
        return len(self.starts)

    def record_at(self, offset: int) -> int:
        """The index of the record holding ``offset`` (relative to the range)."""
        return max(0, int(np.searchsorted(self.starts, offset, side="right")) - 1)


def _outside_quotes(quotes: np.ndarray, positions: np.ndarray) -> np.ndarray:
    outside: np.ndarray = np.searchsorted(quotes, positions) % 2 == 0
    return outside


def _quotes(arr: np.ndarray, data: bytes) -> np.ndarray | None:
    """Offsets of the quote characters, or None when there are none (most records)."""
    if b'"' not in data:
        return None
    found: np.ndarray = np.flatnonzero(arr == QUOTE)
    return found


def _record_ends(arr: np.ndarray, quotes: np.ndarray | None) -> np.ndarray:
    lfs: np.ndarray = np.flatnonzero(arr == LF)
    return lfs if quotes is None else lfs[_outside_quotes(quotes, lfs)]


def _lone_crs(arr: np.ndarray, quotes: np.ndarray | None) -> np.ndarray:
    crs: np.ndarray = np.flatnonzero(arr == CR)
    if not len(crs):
        return crs
    after = crs + 1
    alone: np.ndarray = crs[(after >= len(arr)) | (arr[np.minimum(after, len(arr) - 1)] != LF)]
    if quotes is None or not len(alone):
        return alone
    outside: np.ndarray = alone[_outside_quotes(quotes, alone)]
    return outside


def record_ends(data: bytes) -> np.ndarray:
    """Offsets of the line feeds in ``data`` that end a record (outside quotes)."""
    arr = np.frombuffer(data, dtype=np.uint8)
    return _record_ends(arr, _quotes(arr, data))


def first_lone_cr(data: bytes) -> int | None:
    """The offset of the first CR outside quotes that is not followed by an LF, if any."""
    arr = np.frombuffer(data, dtype=np.uint8)
    alone = _lone_crs(arr, _quotes(arr, data))
    return int(alone[0]) if len(alone) else None


def layout(data: bytes, limits: ReadLimits) -> Layout:
    """The records of a range that starts on a record boundary; refuses what cannot be read."""
    nul = data.find(b"\x00")
    arr = np.frombuffer(data, dtype=np.uint8)
    quotes = _quotes(arr, data)
    ends = _record_ends(arr, quotes)
    bounds = np.r_[0, ends + 1]
    if bounds[-1] < len(data):
        bounds = np.r_[bounds, len(data)]
    starts, stops = bounds[:-1], bounds[1:]
    length = stops - starts
    ends_lf = arr[np.maximum(stops - 1, 0)] == LF if len(stops) else np.zeros(0, dtype=bool)
    blank = ends_lf & ((length == 1) | ((length == 2) & (arr[np.maximum(stops - 2, 0)] == CR)))
    found = Layout(starts[~blank], stops[~blank])
    if nul >= 0:
        raise RangeRefused(
            "the file holds a NUL byte (binary data, or text that is not UTF-8)",
            found.record_at(nul),
            nul,
        )
    alone = _lone_crs(arr, quotes)
    if len(alone):
        cr = int(alone[0])
        raise RangeRefused(CR_ALONE, found.record_at(cr), cr)
    too_long = np.flatnonzero(length > limits.max_record_bytes)
    if len(too_long):
        at, stop = int(starts[too_long[0]]), int(stops[too_long[0]])
        reason = record_too_long(limits)
        if data.count(b'"', at, stop) % 2:
            reason += "; is a quote left open?"
        raise RangeRefused(reason, found.record_at(at), at)
    return found


def record_too_long(limits: ReadLimits) -> str:
    return (
        f"a record is longer than the limit of {limits.max_record_bytes:,} bytes "
        "(AMAAN_ETL_MAX_RECORD_BYTES)"
    )


def no_record_end(data: bytes, limits: ReadLimits) -> str:
    """Why ``data`` (the start of a record) holds no record end within the limit."""
    if first_lone_cr(data) is not None:
        return CR_ALONE
    if data.count(b'"') % 2 == 1:
        return f"{record_too_long(limits)}; is a quote left open?"
    return record_too_long(limits)
