"""The append-only, hash-chained audit log.

Each entry's hash is SHA-256 over the previous hash and the entry's fields in a canonical
JSON form. Appends lock the single ``audit_head`` row, so concurrent writers form one chain on
PostgreSQL as on SQLite. ``verify`` recomputes every hash: an edited, inserted or deleted
entry breaks the chain from that point.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from schema.access import AuditEntry, AuditHead
from schema.models import utcnow

GENESIS = "0" * 64


def _moment(at: datetime) -> str:
    """One text for a moment on every database (SQLite returns naive UTC datetimes)."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


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


def _hash(prev_hash: str, values: dict[str, Any]) -> str:
    fields = {name: values[name] for name in HASHED}
    fields["at"] = _moment(values["at"])
    text = prev_hash + json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def entry_hash(prev_hash: str, entry: AuditEntry) -> str:
    return _hash(prev_hash, {name: getattr(entry, name) for name in HASHED})


_LOG = cast(Table, AuditEntry.__table__)
_HEAD = cast(Table, AuditHead.__table__)


def append(
    session: Session,
    *,
    action: str,
    outcome: str,
    account_id: int | None = None,
    dataset_id: int | None = None,
    version_id: int | None = None,
    canonical_key: str | None = None,
    epsilon_micro: int | None = None,
    detail: dict[str, Any] | None = None,
) -> int:
    """Append an entry to the chain, in the caller's transaction; returns its id.

    Core statements, not the unit of work: this runs on every request."""
    head = session.execute(
        select(_HEAD.c.last_hash, _HEAD.c.entries).where(_HEAD.c.id == 1).with_for_update()
    ).one()
    values: dict[str, Any] = {
        "at": utcnow(),
        "account_id": account_id,
        "action": action,
        "outcome": outcome,
        "dataset_id": dataset_id,
        "version_id": version_id,
        "canonical_key": canonical_key,
        "epsilon_micro": epsilon_micro,
        "detail": json.dumps(detail or {}, sort_keys=True, separators=(",", ":")),
        "prev_hash": head.last_hash,
    }
    values["hash"] = _hash(head.last_hash, values)
    entry_id: int = session.execute(insert(_LOG).values(values).returning(_LOG.c.id)).scalar_one()
    session.execute(
        update(_HEAD)
        .where(_HEAD.c.id == 1)
        .values(last_hash=values["hash"], entries=head.entries + 1)
    )
    return entry_id


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    problem: str | None = None
    entry_id: int | None = None


def verify(session: Session) -> Verification:
    prev = GENESIS
    count = 0
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)).yield_per(1000):
        if entry.prev_hash != prev:
            return Verification(False, count, "an entry before this one is missing", entry.id)
        if entry_hash(prev, entry) != entry.hash:
            return Verification(
                False, count, "this entry was changed after it was written", entry.id
            )
        prev = entry.hash
        count += 1
    head = session.get(AuditHead, 1)
    if head is None or head.last_hash != prev or head.entries != count:
        return Verification(False, count, "entries were removed from the end of the log", None)
    return Verification(True, count)
