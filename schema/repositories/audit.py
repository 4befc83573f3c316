"""The append-only audit log: entries written freely, chained in order by one sealer.

``append`` inserts an entry with a keyed MAC in the caller's transaction and takes no shared
lock, so audited requests (cache hits and downloads included) never queue on each other.
``seal`` then gives every committed, unsealed entry its place: a sequence number, the previous
entry's hash and its own (``audit_chain``), in one short transaction. Only one sealer runs at a
time across workers and hosts: it locks the ``audit_head`` row with ``SKIP LOCKED`` (another
sealer at work means there is nothing to do), and on SQLite it holds the writer lock.

PostgreSQL assigns ids at insert and transactions commit later, so entries commit out of id
order. The sealer seals what is committed, in id order, and numbers it after what it sealed
before: an entry that commits late takes the next number, so the chain never has a hole and
never skips a committed entry. ``seal_lag`` is the age of the oldest unsealed entry.
``verify`` (in ``audit_verify``) checks the chain, the checkpoints staff keep and the budgets.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Engine, Table, bindparam, exists, func, insert, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import TextClause

from schema.access import AuditAction, AuditEntry, AuditHead
from schema.db import read_snapshot
from schema.models import utcnow
from schema.repositories.audit_chain import (
    GENESIS,
    AuditKeyMismatch,
    entry_mac,
    key_id,
    legacy_hash,
    link,
    same,
)
from schema.repositories.audit_verify import (
    CHARGES,
    MAX_CHECKPOINT_BYTES,
    Checkpoint,
    Verification,
    key_of,
    parse_checkpoint,
    verify,
)

__all__ = [
    "CHARGES",
    "GENESIS",
    "MAX_CHECKPOINT_BYTES",
    "AuditKeyMismatch",
    "Checkpoint",
    "Verification",
    "append",
    "check_key",
    "checked",
    "checkpoint",
    "entry",
    "fields",
    "keyed",
    "parse_checkpoint",
    "seal",
    "seal_lag",
    "seal_pending",
    "verify",
    "write",
]

log = logging.getLogger("amaan.audit")

SEAL_BATCH = 2_000  # entries sealed in one transaction: a short one, even after a backlog

_LOG = cast(Table, AuditEntry.__table__)
_HEAD = cast(Table, AuditHead.__table__)


# A data-modifying statement as the SQL of a CTE (``name AS (...)``, PostgreSQL, a constant:
# every value bound) and its values, sent with an entry in one statement.
Before = tuple[str, dict[str, Any]]

# Built once, its values bound per call: SQLAlchemy's compiled cache then serves every append.
_INSERT = insert(_LOG).returning(_LOG.c.id)


# The INSERT of ``write``'s row after a CTE (``before``); its columns are ``fields``' and
# the MAC's (tests/schema/test_audit_with.py holds them equal).
_INSERT_SQL = """
INSERT INTO audit_log (at, account_id, action, outcome, dataset_id, version_id, canonical_key,
                       epsilon_micro, detail, nonce, mac)
VALUES (:at, :account_id, :action, :outcome, :dataset_id, :version_id, :canonical_key,
        :epsilon_micro, :detail, :nonce, :mac)
RETURNING id"""
_WITH: dict[str, TextClause] = {}  # the INSERT after each CTE, built once per CTE


def write(session: Session, row: dict[str, Any], before: Before | None = None) -> int:
    """Write an entry's row (``entry``), after a CTE (``before``) if one is given."""
    statement: Executable = _INSERT
    if before is not None:
        cte, params = before
        if params.keys() & row.keys():  # the entry's own values are never a CTE's
            raise ValueError(f"a CTE's parameters shadow the entry's: {params.keys() & row.keys()}")
        if cte not in _WITH:
            _WITH[cte] = text("WITH " + cte + _INSERT_SQL)
        statement, row = _WITH[cte], params | row
    # On the session's connection (its transaction, savepoints included): a Core statement,
    # so nothing of the ORM's execution is needed on every audited request.
    entry_id: int = session.connection().execute(statement, row).scalar_one()
    return entry_id


def fields(
    action: AuditAction,
    outcome: str,
    account_id: int | None = None,
    dataset_id: int | None = None,
    version_id: int | None = None,
    canonical_key: str | None = None,
    epsilon_micro: int | None = None,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "at": utcnow(),
        "account_id": account_id,
        "action": action,
        "outcome": outcome,
        "dataset_id": dataset_id,
        "version_id": version_id,
        "canonical_key": canonical_key,
        "epsilon_micro": epsilon_micro,
        "detail": json.dumps(detail or {}, sort_keys=True, separators=(",", ":")),
    }


def append(
    session: Session,
    *,
    action: AuditAction,
    outcome: str,
    account_id: int | None = None,
    dataset_id: int | None = None,
    version_id: int | None = None,
    canonical_key: str | None = None,
    epsilon_micro: int | None = None,
    detail: dict[str, Any] | None = None,
    before: Before | None = None,
) -> int:
    """Write an entry in the caller's transaction (sealed after it commits); returns its id.

    One Core INSERT and no lock on anything shared: this runs on every audited request.
    ``before``: a data-modifying CTE (PostgreSQL only) and its values, written in the same
    statement (one round trip for what a request writes with its entry); its bound names
    must not be the log's columns."""
    row = entry(
        session,
        action=action,
        outcome=outcome,
        account_id=account_id,
        dataset_id=dataset_id,
        version_id=version_id,
        canonical_key=canonical_key,
        epsilon_micro=epsilon_micro,
        detail=detail,
    )
    return write(session, row, before)


def entry(
    session: Session,
    *,
    action: AuditAction,
    outcome: str,
    account_id: int | None = None,
    dataset_id: int | None = None,
    version_id: int | None = None,
    canonical_key: str | None = None,
    epsilon_micro: int | None = None,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An entry's row as ``append`` writes it: its values (the columns of ``_INSERT_SQL``),
    its nonce and its MAC under the session's key, checked against the log's first."""
    values = fields(
        action, outcome, account_id, dataset_id, version_id, canonical_key, epsilon_micro, detail
    )
    key = key_of(session)
    check_key(session, key)
    return keyed(key, values)


def keyed(key: bytes, values: dict[str, Any]) -> dict[str, Any]:
    """An entry's values (``fields``) with a new nonce and their MAC under ``key``, which
    the caller has checked (``check_key``, ``checked``)."""
    nonce = secrets.token_hex(16)
    return values | {"nonce": nonce, "mac": entry_mac(key, nonce, values)}


_keys_checked: set[tuple[str, str]] = set()  # (database, key id) seen to match, per process


def checked(engine: Engine, key: bytes) -> bool:
    """Whether this process has seen ``key`` be the one the engine's log is sealed with."""
    return (str(engine.url), key_id(key)) in _keys_checked


def check_key(session: Session, key: bytes) -> None:
    """Refuse a key other than the one the log was sealed with, before writing under it: a
    staff command run without the service's key would otherwise break verification for good.
    One read per database and key per process."""
    seen = (str(session.get_bind().engine.url), key_id(key))
    if seen in _keys_checked:
        return
    sealed_with = session.scalar(select(_HEAD.c.key_id).where(_HEAD.c.id == 1))
    if sealed_with is not None and sealed_with != seen[1]:
        raise AuditKeyMismatch()
    if sealed_with is not None:
        _keys_checked.add(seen)


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
        session.execute(
            update(_LOG)
            .where(_LOG.c.id == bindparam("b_id"))
            .values(
                seq=bindparam("b_seq"), prev_hash=bindparam("b_prev"), hash=bindparam("b_hash")
            ),
            updates,
        )
        session.execute(update(_HEAD).where(_HEAD.c.id == 1).values(entries=seq, last_hash=last))
    return len(updates)


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


def checkpoint(session: Session) -> dict[str, Any]:
    """The sealed chain's head, for staff to keep outside the database."""
    head = session.execute(select(_HEAD).where(_HEAD.c.id == 1)).one()
    at = session.scalar(select(_LOG.c.at).where(_LOG.c.seq == head.entries))
    return {
        "sequence": head.entries,
        "hash": head.last_hash,
        "time": None if at is None else at.isoformat(),
        "taken_at": utcnow().isoformat(),
    }
