"""Releases as files: CSV, a zip of the CSV with what it means, and Excel workbooks; and the
metadata that travels with every download.

A release is immutable, so its body, its parsed summary and its rendered files are cached per
worker (bounded in bytes), keyed by the release id and what shapes the file (the order of the
columns, the confidence of the intervals). The table's layout and the protection against
spreadsheet formulas are ``api.extract_table``'s; the about text is ``api.about``'s. File names
and the about text come from the release's public metadata only.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from api import about, columns, workbook
from api.extract_table import FORMULA_TRIGGERS, Value, neutralise, table
from schema.access import Publication, Release
from schema.models import Dataset

__all__ = ["FORMULA_TRIGGERS", "neutralise"]

BOM = "\ufeff"


def _text(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return neutralise(str(value))


def csv_text(columns: list[str], rows: Iterable[list[Value]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([_text(v) for v in row] for row in rows)
    return buffer.getvalue()


def records_csv(columns: list[str], records: list[dict[str, Any]]) -> str:
    """Rows of the ledger or the audit log as CSV, neutralised like every CSV of Amaan."""
    return csv_text(columns, ([record[c] for c in columns] for record in records))


class SizedCache:
    """Least recently used, bounded by the total size of what it holds; thread-safe."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.items: OrderedDict[tuple[Any, ...], tuple[Any, int]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> Any:
        with self.lock:
            found = self.items.get(key)
            if found is None:
                return None
            self.items.move_to_end(key)
            return found[0]

    def put(self, key: tuple[Any, ...], value: Any, size: int) -> Any:
        with self.lock:
            if key not in self.items and size <= self.max_bytes:
                self.items[key] = (value, size)
                self.size += size
                while self.size > self.max_bytes:
                    _, (_, dropped) = self.items.popitem(last=False)
                    self.size -= dropped
        return value


_cache = SizedCache(max_bytes=128 * 1024 * 1024)


def body(release: Release) -> bytes:
    """The release's stored JSON in the row form, UTF-8 (loaded from the database once per
    worker): its text ``body``, or its ``packed`` columns as rows (``api.columns``)."""
    key = ("body", release.public_id)
    found: bytes | None = _cache.get(key)
    if found is None:
        packed = release.packed
        if packed is not None:
            encoded = orjson.dumps(columns.to_rows(columns.unpack(packed)))
        else:
            encoded = release.body.encode("utf-8")
        found = _cache.put(key, encoded, len(encoded))
    return found


def rendered(release: Release, confidence: float, make: Callable[[], str]) -> bytes:
    """The release's body with intervals at another confidence, made once per worker."""
    key = ("body", release.public_id, confidence)
    found: bytes | None = _cache.get(key)
    if found is None:
        encoded = make().encode("utf-8")
        found = _cache.put(key, encoded, len(encoded))
    return found


def served(content: bytes, make: Callable[[], bytes], layout: str = "rows") -> bytes:
    """``content`` (a body from ``body`` or ``rendered``) in the REST API's shape (``layout``
    rows or columns), made once per worker: the bytes object is the key (its hash is computed
    once and kept)."""
    key = ("served", content, layout)
    found: bytes | None = _cache.get(key)
    if found is None:
        made = make()
        found = _cache.put(key, made, len(made))
    return found


def summary(release: Release) -> dict[str, Any]:
    """The release's fields other than its cells."""
    key = ("summary", release.public_id)
    found: dict[str, Any] | None = _cache.get(key)
    if found is None:
        parsed = json.loads(body(release))
        parsed.pop("cells")
        found = _cache.put(key, parsed, 2048)
    return found


def _rendered(
    release: Release,
    what: str,
    content: bytes | None,
    order: list[str] | None,
    make: Callable[[dict[str, Any]], bytes],
    meta: dict[str, Any] | None = None,
) -> bytes:
    """A file of the release made by ``make`` from its body (the stored one, or ``content``: the
    same release with intervals at another confidence), made once per worker. ``meta`` is
    what else the file shows (one release may be published under several titles)."""
    shown = body(release) if content is None else content
    facts = json.dumps(meta, sort_keys=True, default=str) if meta else ""
    key = (what, release.public_id, tuple(order or ()), hash(shown), hash(facts))
    found: bytes | None = _cache.get(key)
    if found is None:
        made = make(json.loads(shown))
        found = _cache.put(key, made, len(made))
    return found


def _csv(parsed: dict[str, Any], order: list[str] | None, bom: bool) -> bytes:
    laid_out = table(parsed, order)
    return ((BOM if bom else "") + csv_text(laid_out.columns, laid_out.rows)).encode("utf-8")


def release_csv(
    release: Release, bom: bool, content: bytes | None = None, order: list[str] | None = None
) -> bytes:
    """The release as one CSV table, its dimensions in ``order`` (as the query asked)."""
    return _rendered(release, f"csv{bom:d}", content, order, lambda p: _csv(p, order, bom))


def release_zip(
    release: Release,
    meta: dict[str, Any],
    coverage: tuple[str, str],
    content: bytes | None = None,
    order: list[str] | None = None,
) -> bytes:
    """The CSV and the about text in one zip, both UTF-8 with a byte-order mark (so Excel reads
    the Urdu), dated as the release."""

    def make(parsed: dict[str, Any]) -> bytes:
        stamp = release.created_at.timetuple()[:6]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            files = [
                (file_name(release.public_id), _csv(parsed, order, bom=True)),
                (file_name(release.public_id, "txt", "about"), about_text(meta, coverage)),
            ]
            for name, data in files:
                archive.writestr(zipfile.ZipInfo(name, date_time=stamp), data, zipfile.ZIP_DEFLATED)
        return buffer.getvalue()

    return _rendered(release, "zip", content, order, make, meta)


def about_text(meta: dict[str, Any], coverage: tuple[str, str]) -> bytes:
    return (BOM + about.text(meta, coverage)).encode("utf-8")


def release_xlsx(
    release: Release,
    meta: dict[str, Any],
    coverage: tuple[str, str],
    content: bytes | None = None,
    order: list[str] | None = None,
) -> bytes:
    """The release as an Excel workbook: the table, and "About this table"."""

    def make(parsed: dict[str, Any]) -> bytes:
        return workbook.workbook(table(parsed, order), meta, coverage, release.created_at)

    return _rendered(release, "xlsx", content, order, make, meta)


def metadata(
    release: Release, dataset: Dataset, publication: Publication | None = None
) -> dict[str, Any]:
    """What a download means: public facts about the release, never a count."""
    body = summary(release)
    meta: dict[str, Any] = {
        "release_id": release.public_id,
        "dataset": body["dataset"],
        "dataset_title": dataset.title,
        "dataset_version": body["dataset_version"],
        "group_by": body["group_by"],
        "query": json.loads(release.query),
        "epsilon": body["epsilon"],
        "mechanism": body["mechanism"],
        "privacy_unit": body.get("privacy_unit", "one complainant"),
        "contribution_bound": body.get("contribution_bound", dataset.max_cases_per_person),
        "noise_scale": body["noise_scale"],
        "margin_of_error": body["margin_of_error"],
        "confidence": body["confidence"],
        "threshold": body["threshold"],
        "sensitive_threshold": body["sensitive_threshold"],
        "rounding": body.get("rounding"),
        "margins": body.get("margins", False),
        "interpretation": body["interpretation"],
        "released_at": release.created_at.isoformat(),
        "title": publication.title if publication else None,
        "description": publication.description if publication else None,
    }
    return meta


def _ascii(value: str) -> str:
    return value.replace("ε", "epsilon").encode("ascii", "ignore").decode().strip()


def headers(meta: dict[str, Any]) -> dict[str, str]:
    """The metadata as response headers (ASCII facts only; titles stay in the JSON)."""
    values = {
        "X-Amaan-Release-Id": meta["release_id"],
        "X-Amaan-Dataset": meta["dataset"],
        "X-Amaan-Dataset-Version": str(meta["dataset_version"]),
        "X-Amaan-Group-By": " ".join(meta["group_by"]),
        "X-Amaan-Epsilon": meta["epsilon"],
        "X-Amaan-Mechanism": meta["mechanism"],
        "X-Amaan-Privacy-Unit": meta["privacy_unit"],
        "X-Amaan-Contribution-Bound": str(meta["contribution_bound"]),
        "X-Amaan-Threshold": str(meta["threshold"]),
        "X-Amaan-Sensitive-Threshold": str(meta["sensitive_threshold"]),
        "X-Amaan-Rounding": str(meta["rounding"] or 1),
        "X-Amaan-Confidence": str(meta["confidence"]),
        "X-Amaan-Released-At": meta["released_at"],
    }
    return {name: _ascii(value) for name, value in values.items()}


def file_name(release_id: str, extension: str = "csv", part: str | None = None) -> str:
    """From the release id only (``r_`` and 24 hex digits): nothing else a file name could leak
    or a browser could misread."""
    return f"amaan_{release_id}{'_' + part if part else ''}.{extension}"
