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


def entry_hash(prev_hash: str, entry: AuditEntry) -> str:
    fields = {
        "at": _moment(entry.at),
        "account_id": entry.account_id,
        "action": entry.action,
        "outcome": entry.outcome,
        "dataset_id": entry.dataset_id,
        "version_id": entry.version_id,
        "canonical_key": entry.canonical_key,
        "epsilon_micro": entry.epsilon_micro,
        "detail": entry.detail,
    }
    text = prev_hash + json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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
) -> AuditEntry:
    head = session.execute(
        select(AuditHead.last_hash, AuditHead.entries).where(AuditHead.id == 1).with_for_update()
    ).one()
    entry = AuditEntry(
        at=utcnow(),
        account_id=account_id,
        action=action,
        outcome=outcome,
        dataset_id=dataset_id,
        version_id=version_id,
        canonical_key=canonical_key,
        epsilon_micro=epsilon_micro,
        detail=json.dumps(detail or {}, sort_keys=True, separators=(",", ":")),
        prev_hash=head.last_hash,
        hash="",
    )
    entry.hash = entry_hash(head.last_hash, entry)
    # Core statements, not the unit of work: this runs on every request.
    log, head_table = cast(Table, AuditEntry.__table__), cast(Table, AuditHead.__table__)
    columns = [c.key for c in log.columns if c.key != "id"]
    entry.id = session.execute(
        insert(log).values({key: getattr(entry, key) for key in columns}).returning(log.c.id)
    ).scalar_one()
    session.execute(
        update(head_table)
        .where(head_table.c.id == 1)
        .values(last_hash=entry.hash, entries=head.entries + 1)
    )
    return entry


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
