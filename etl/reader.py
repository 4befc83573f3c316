"""Reading the raw export as a stream of chunks of records.

Only the columns the pipeline needs are kept from each record; the identifying columns
(except the contact key, which is pseudonymised at once) never enter a chunk.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
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
    columns: dict[str, list[str]]
    bad_rows: list[int]  # record numbers whose field count differs from the header's

    @property
    def size(self) -> int:
        return len(next(iter(self.columns.values())))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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


class ExportReader:
    """Iterates over a raw export in chunks; ``header`` and ``dropped`` are known on open."""

    def __init__(self, path: Path, chunk_rows: int = 50_000) -> None:
        self.path = path
        self.chunk_rows = chunk_rows
        self._raw = path.open("rb")
        try:
            self._open()
        except BaseException:
            self._raw.close()
            raise

    def _open(self) -> None:
        _check_looks_like_text(self._raw)
        self.rows_read = 0
        self._text = io.TextIOWrapper(self._raw, encoding="utf-8-sig", newline="")
        self._rows = csv.reader(self._text, strict=True)
        header = self._next_record()
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
        self._index = {c: self.header.index(c) for c in KEPT if c in self.header}

    def _next_record(self) -> list[str] | None:
        try:
            return next(self._rows)
        except StopIteration:
            return None
        except UnicodeDecodeError as exc:
            raise LoadRefused(
                f"the file is not UTF-8 text near record {self.rows_read + 2}"
            ) from exc
        except csv.Error as exc:
            raise LoadRefused(
                f"the file is not valid CSV near record {self.rows_read + 2}: {exc}"
            ) from exc

    def bytes_read(self) -> int:
        return self._raw.tell()

    def chunks(self) -> Iterator[Chunk]:
        width = len(self.header)
        while True:
            first = self.rows_read + 2
            cols: dict[str, list[str]] = {c: [] for c in KEPT}
            bad: list[int] = []
            n = 0
            while n < self.chunk_rows:
                rec = self._next_record()
                if rec is None:
                    break
                if not rec:  # a blank line is not a record
                    continue
                number = self.rows_read + 2
                self.rows_read += 1
                if len(rec) != width:
                    bad.append(number)
                    rec = [""] * width
                for c in KEPT:
                    i = self._index.get(c)
                    cols[c].append(rec[i] if i is not None else "")
                n += 1
            if n == 0:
                return
            yield Chunk(first, cols, bad)

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> ExportReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
