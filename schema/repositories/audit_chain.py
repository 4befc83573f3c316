"""The audit log's hashes, keyed with HMAC-SHA256 (``AMAAN_AUDIT_KEY``, kept outside the
database).

Two hashes per entry. Its ``mac``, computed when the entry is written, covers its fields and
a random nonce: without the key nobody can write an entry the sealer will accept, edit one, or
copy one (the nonce makes every ``mac`` unique). Its ``hash``, computed when the sealer gives
it its place, covers its sequence number, the previous entry's hash and its ``mac``: removing,
reordering or inserting entries breaks every hash after. The chain starts from ``GENESIS``.

``legacy_hash`` is the unkeyed SHA-256 chain of the first schema, checked once when the old
entries are re-sealed under the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64

HASHED = (
    "at",
    "account_id",
    "action",
    "outcome",
    "dataset_id",
    "version_id",
    "canonical_key",
    "epsilon_micro",
    "detail",
)


def _moment(at: datetime) -> str:
    """One text for a moment on every database (SQLite returns naive UTC datetimes)."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


def _fields(values: Mapping[Any, Any]) -> str:
    fields = {name: values[name] for name in HASHED}
    fields["at"] = _moment(values["at"])
    return json.dumps(fields, sort_keys=True, separators=(",", ":"))


def entry_mac(key: bytes, nonce: str, values: Mapping[Any, Any]) -> str:
    message = b"amaan-audit-entry\0" + nonce.encode("ascii") + b"\0" + _fields(values).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def link(key: bytes, seq: int, prev_hash: str, mac: str) -> str:
    message = f"amaan-audit-chain\0{seq}\0{prev_hash}\0{mac}".encode("ascii")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two hex digests (None never matches)."""
    return a is not None and b is not None and hmac.compare_digest(a, b)


def legacy_hash(prev_hash: str, values: Mapping[Any, Any]) -> str:
    return hashlib.sha256((prev_hash + _fields(values)).encode("utf-8")).hexdigest()


class AuditKeyMismatch(RuntimeError):
    """The audit key given is not the one the log was sealed with."""

    def __init__(self) -> None:
        super().__init__(
            "AMAAN_AUDIT_KEY is not the key this audit log was sealed with; set the key the "
            "service runs with (entries written under another key could never be verified)"
        )


def key_id(key: bytes) -> str:
    """A fingerprint of the audit key, safe to store beside the log."""
    return hmac.new(key, b"amaan audit key id", hashlib.sha256).hexdigest()
