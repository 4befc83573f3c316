"""The append-only audit log: entries written freely, chained in order by one sealer.

``append`` inserts an entry with a keyed MAC in the caller's transaction and takes no shared
lock, so audited requests (cache hits and downloads included) never queue on each other.
``audit_seal`` then gives every committed, unsealed entry its place in the chain, and
``verify`` (in ``audit_verify``) checks the chain, the checkpoints staff keep and the budgets.
"""

from __future__ import annotations

import json
import secrets
from typing import Any, cast

from sqlalchemy import Engine, Table, insert, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import TextClause

from schema.access import AuditAction, AuditEntry, AuditHead
from schema.models import utcnow
from schema.repositories.audit_chain import (
    GENESIS,
    AuditKeyMismatch,
    entry_mac,
    key_id,
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
    "verify",
    "write",
]


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
