"""Releases as files: CSV for spreadsheets, and the metadata that travels with every download.

A release is immutable, so its body, its parsed summary and its rendered CSV are cached per
worker (bounded in bytes), keyed by the release id. No cell of the CSV can start
a spreadsheet formula: text that begins with ``= + - @``, a tab or a carriage return is
prefixed with an apostrophe (counts and bounds are never negative, so numbers are untouched).
"""

from __future__ import annotations

import csv
import io
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from schema.access import Publication, Release
from schema.models import Dataset

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def neutralise(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return neutralise(str(value))


def header(group_by: list[str]) -> list[str]:
    columns: list[str] = []
    for dimension in group_by:
        columns += [dimension, f"{dimension}_label", f"{dimension}_label_ur"]
    return [*columns, "count", "lower", "upper", "suppressed", "reason", "total"]


def rows(body: dict[str, Any]) -> list[list[str]]:
    out = []
    for cell in body["cells"]:
        row = []
        for key in cell["key"]:
            row += [_text(key["code"]), _text(key["label"]), _text(key["label_ur"])]
        row += [
            _text(cell[name])
            for name in ("count", "lower", "upper", "suppressed", "reason", "total")
        ]
        out.append(row)
    return out


def csv_text(columns: list[str], table: Iterable[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(table)
    return buffer.getvalue()


def write_csv(group_by: list[str], table: list[list[str]], *, bom: bool = False) -> bytes:
    return ((BOM if bom else "") + csv_text(header(group_by), table)).encode("utf-8")


def records_csv(columns: list[str], records: list[dict[str, Any]]) -> str:
    """Rows of the ledger or the audit log as CSV, neutralised like every CSV of Amaan."""
    return csv_text(columns, ([_text(record[c]) for c in columns] for record in records))


class _Cache:
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


_cache = _Cache(max_bytes=128 * 1024 * 1024)


def body(release: Release) -> bytes:
    """The release's stored JSON, UTF-8 (loaded from the database once per worker)."""
    key = ("body", release.public_id)
    found: bytes | None = _cache.get(key)
    if found is None:
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


def summary(release: Release) -> dict[str, Any]:
    """The release's fields other than its cells."""
    key = ("summary", release.public_id)
    found: dict[str, Any] | None = _cache.get(key)
    if found is None:
        parsed = json.loads(body(release))
        parsed.pop("cells")
        found = _cache.put(key, parsed, 2048)
    return found


def release_csv(release: Release, bom: bool, content: bytes | None = None) -> bytes:
    """The release as CSV: its stored body, or ``content`` (the same release with intervals at
    another confidence)."""
    table = body(release) if content is None else content
    key = ("csv", release.public_id, bom, hash(table))
    found: bytes | None = _cache.get(key)
    if found is None:
        parsed = json.loads(table)
        content = write_csv(parsed["group_by"], rows(parsed), bom=bom)
        found = _cache.put(key, content, len(content))
    return found


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


def file_name(meta: dict[str, Any], extension: str = "csv") -> str:
    title = meta.get("title") or ""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60]
    parts = [
        slug or "amaan",
        meta["dataset"],
        f"v{meta['dataset_version']}",
        *meta["group_by"],
        meta["release_id"],
    ]
    return "_".join(p.replace("_", "-") for p in parts) + f".{extension}"
