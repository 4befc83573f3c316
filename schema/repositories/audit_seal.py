"""Sealing the audit log (``schema.repositories.audit``): ``seal`` gives every committed,
unsealed entry its place, a sequence number, the previous entry's hash and its own
(``audit_chain``), in one short transaction. Only one sealer runs at a time across workers and
hosts: it locks the ``audit_head`` row with ``SKIP LOCKED`` (another sealer at work means
there is nothing to do), and on SQLite it holds the writer lock.

PostgreSQL assigns ids at insert and transactions commit later, so entries commit out of id
order. The sealer seals what is committed, in id order, and numbers it after what it sealed
before: an entry that commits late takes the next number, so the chain never has a hole and
never skips a committed entry. ``seal_lag`` is the age of the oldest unsealed entry.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, exists, func, select, text, update
from sqlalchemy.orm import Session

from schema.db import read_snapshot
from schema.models import utcnow
from schema.repositories.audit import _HEAD, _LOG, fields, keyed, write
from schema.repositories.audit_chain import (
    GENESIS,
    AuditKeyMismatch,
    entry_mac,
    key_id,
    legacy_hash,
    link,
    same,
)
from schema.repositories.audit_verify import key_of

__all__ = ["SEAL_BATCH", "seal", "seal_lag", "seal_pending"]

log = logging.getLogger("amaan.audit")

SEAL_BATCH = 2_000  # entries sealed in one transaction: a short one, even after a backlog

_reported: set[int] = set()  # entries refused by this process's sealer, logged once each


def _lock_head(session: Session) -> Any:
    query = select(_HEAD).where(_HEAD.c.id == 1)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)  # SQLite: the writer lock is held
    return session.execute(query).one_or_none()


def _rekey(session: Session, key: bytes, head: Any) -> None:
    """Give the first schema's unkeyed entries a MAC under the key, after checking their old
    chain, and record it; the sealing that follows re-seals them in their old order."""
    if session.scalar(select(exists().where(_LOG.c.seq.is_not(None)))):
        # A keyed chain exists, so ``keyed`` was switched off by hand: never re-key over it
        # (entries without a MAC are then refused by the sealer, and named by verify).
        log.error("audit_head.keyed was false over a keyed chain; left as it is")
        session.execute(update(_HEAD).where(_HEAD.c.id == 1).values(keyed=True))
        return
    prev, count, problem, at_id = GENESIS, 0, None, None
    rows = session.execute(select(_LOG).where(_LOG.c.mac.is_(None)).order_by(_LOG.c.id))
    updates = []
    for row in rows.mappings():
        if problem is None and row["prev_hash"] != prev:
            problem, at_id = "an entry before this one is missing", row["id"]
        elif problem is None and legacy_hash(prev, row) != row["hash"]:
            problem, at_id = "this entry was changed after it was written", row["id"]
        prev = row["hash"] or prev
        count += 1
        nonce = secrets.token_hex(16)
        updates.append({"b_id": row["id"], "b_nonce": nonce, "b_mac": entry_mac(key, nonce, row)})
    if problem is None and (head.last_hash != prev or head.entries != count):
        problem = "entries were removed from the end of the log"
    if updates:
        session.execute(
            update(_LOG)
            .where(_LOG.c.id == bindparam("b_id"))
            .values(nonce=bindparam("b_nonce"), mac=bindparam("b_mac"), prev_hash=None, hash=None),
            updates,
        )
    if count or head.entries:
        if problem:
            log.error("the unkeyed audit chain was broken before re-keying: %s", problem)
        outcome = "rekeyed" if problem is None else "rekeyed_broken"
        detail = {
            "legacy_entries": count,
            "legacy_head": head.last_hash,
            "problem": problem,
            "entry_id": at_id,
        }
        write(session, keyed(key, fields("audit.rekeyed", outcome, detail=detail)))
    session.execute(
        update(_HEAD)
        .where(_HEAD.c.id == 1)
        .values(keyed=True, entries=0, last_hash=GENESIS, key_id=key_id(key))
    )


def seal(session: Session, key: bytes | None = None, *, limit: int = SEAL_BATCH) -> int:
    """Chain up to ``limit`` committed, unsealed entries in the caller's transaction (commit
    it at once); returns how many. 0 at once when another sealer holds the head."""
    key = key or key_of(session)
    head = _lock_head(session)
    if head is None:
        return 0
    if head.key_id is not None and head.key_id != key_id(key):
        raise AuditKeyMismatch()
    if not head.keyed:
        _rekey(session, key, head)
        head = _lock_head(session)
    elif head.key_id is None:
        session.execute(update(_HEAD).where(_HEAD.c.id == 1).values(key_id=key_id(key)))
    seq, last, after = head.entries, head.last_hash, 0
    updates: list[dict[str, Any]] = []
    while len(updates) < limit:
        rows = session.execute(
            select(_LOG)
            .where(_LOG.c.seq.is_(None), _LOG.c.id > after)
            .order_by(_LOG.c.id)
            .limit(min(500, limit - len(updates)))
        ).mappings()
        batch = list(rows)
        if not batch:
            break
        for row in batch:
            after = row["id"]
            if not same(row["mac"], entry_mac(key, row["nonce"] or "", row)):
                if row["id"] not in _reported:  # left out of the chain; verify names it
                    _reported.add(row["id"])
                    log.error("audit entry %s has no valid MAC; not sealed", row["id"])
                continue
            seq += 1
            new = link(key, seq, last, row["mac"])
            updates.append({"b_id": row["id"], "b_seq": seq, "b_prev": last, "b_hash": new})
            last = new
    if updates:
        _place(session, updates)
        session.execute(update(_HEAD).where(_HEAD.c.id == 1).values(entries=seq, last_hash=last))
    return len(updates)


# PostgreSQL: a batch's places in one statement (arrays unnested server-side), where an
# executemany costs the sealer's process a round of Python per row.
_PLACE = text("""
UPDATE audit_log SET seq = v.seq, prev_hash = v.prev, hash = v.hash
FROM unnest(CAST(:ids AS bigint[]), CAST(:seqs AS bigint[]), CAST(:prevs AS text[]),
            CAST(:hashes AS text[])) AS v(id, seq, prev, hash)
WHERE audit_log.id = v.id""")


def _place(session: Session, updates: list[dict[str, Any]]) -> None:
    if session.get_bind().dialect.name == "postgresql":
        columns = {"ids": "b_id", "seqs": "b_seq", "prevs": "b_prev", "hashes": "b_hash"}
        session.execute(_PLACE, {k: [u[c] for u in updates] for k, c in columns.items()})
        return
    session.execute(
        update(_LOG)
        .where(_LOG.c.id == bindparam("b_id"))
        .values(seq=bindparam("b_seq"), prev_hash=bindparam("b_prev"), hash=bindparam("b_hash")),
        updates,
    )


def _needs_sealing(session: Session) -> bool:
    unsealed = session.scalar(select(exists().where(_LOG.c.seq.is_(None))))
    keyed = session.scalar(select(_HEAD.c.keyed).where(_HEAD.c.id == 1))
    return bool(unsealed) or not keyed


def seal_pending(engine: Engine, key: bytes) -> int:
    """Seal everything committed, a batch per transaction; returns how many were sealed.

    Cheap when there is nothing to do: one read-only look, no lock."""
    with read_snapshot(engine) as s:
        if not _needs_sealing(s):
            return 0
    total = 0
    while True:
        with Session(engine) as s, s.begin():
            sealed = seal(s, key)
        total += sealed
        if sealed < SEAL_BATCH:
            return total


def seal_lag(session: Session, now: datetime | None = None) -> float | None:
    """Seconds since the oldest unsealed entry was written (None: everything is sealed)."""
    oldest: datetime | None = session.scalar(
        select(func.min(_LOG.c.at)).where(_LOG.c.seq.is_(None))
    )
    if oldest is None:
        return None
    now = now or utcnow()
    if oldest.tzinfo is None:  # SQLite returns naive UTC
        now = now.replace(tzinfo=None)
    return max((now - oldest).total_seconds(), 0.0)
