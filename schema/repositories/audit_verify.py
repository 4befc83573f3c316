"""Verifying the audit log: its chain, a checkpoint kept elsewhere, and the budgets.

Everything is read from one consistent, read-only snapshot. The chain is walked in sequence
order: every entry's MAC and place are recomputed under the key, so an edited, inserted,
removed or reordered entry is found (and without the key nobody can recompute them). The head
must match the last entry; removing entries from the end and setting the head to match is
found by a checkpoint from before (``amaan audit checkpoint``): the chain must still hold the
checkpoint's entry with the checkpoint's hash. Entries not yet sealed must carry a valid MAC.

Then the budgets: the charges in the log (``CHARGES``, appended in the same transaction as
each charge) must add up, per account and dataset, to the ledger and to every budget row,
and per dataset to its spent ε. Zeroing a budget or deleting ledger rows is found, and named.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, cast

from sqlalchemy import Engine, Table, func, select
from sqlalchemy.orm import Session

from schema.access import AccountBudget, AuditEntry, AuditHead, LedgerEntry
from schema.db import read_snapshot
from schema.models import Dataset
from schema.repositories.audit_chain import (
    GENESIS,
    AuditKeyMismatch,
    entry_mac,
    key_id,
    link,
    same,
)

# The (action, outcome) pairs of entries that record a charge of privacy loss. The release
# service appends one in the same transaction as each charge, with ``epsilon_micro`` the ε
# charged (> 0), ``account_id`` the account the ledger names and ``dataset_id`` the dataset.
# The value says whether the account's own budget paid too (a query) or only the dataset's cap
# (staff publishing an extract). Nothing else charges: estimates carry the ε they quote and
# "publish"/"published" repeats a publication's ε, but neither is a charge. A new way of
# spending adds its pair here, or verification reports its charges as missing from the log.
CHARGES: Final[Mapping[tuple[str, str], bool]] = {
    ("query", "released"): True,
    ("publication", "released"): False,
    # A release that failed after its data was read is charged all the same.
    ("query", "failed"): True,
    ("publication", "failed"): False,
    # A summary is charged to the dataset's cap; one that extends a series at the same ε
    # charges nothing ("extended", not a charge).
    ("summary", "released"): False,
    ("summary", "failed"): False,
}

KEY_INFO = "amaan_audit_key"  # Session.info entry of the key (the app's sessions carry it)
_LOG = cast(Table, AuditEntry.__table__)
_HEX64 = re.compile(r"[0-9a-f]{64}")
MAX_CHECKPOINT_BYTES = 4096


def key_of(session: Session) -> bytes:
    key = session.info.get(KEY_INFO)
    if isinstance(key, bytes):
        return key
    from schema.settings import get_settings

    return get_settings().audit_secret()


@dataclass(frozen=True)
class Checkpoint:
    sequence: int
    hash: str


def parse_checkpoint(text: str) -> Checkpoint:
    """A checkpoint as ``amaan audit checkpoint`` printed it; ValueError naming the problem."""
    if len(text.encode("utf-8")) > MAX_CHECKPOINT_BYTES:
        raise ValueError(f"a checkpoint is a small JSON object (at most {MAX_CHECKPOINT_BYTES} B)")
    try:
        data = json.loads(text)
    except ValueError:
        raise ValueError(
            "a checkpoint must be the JSON that amaan audit checkpoint printed"
        ) from None
    if not isinstance(data, dict):
        raise ValueError("a checkpoint must be a JSON object with sequence and hash")
    sequence, digest = data.get("sequence"), data.get("hash")
    if type(sequence) is not int or sequence < 0:
        raise ValueError("the checkpoint's sequence must be a whole number, 0 or more")
    if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
        raise ValueError("the checkpoint's hash must be 64 lowercase hexadecimal digits")
    return Checkpoint(sequence, digest)


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int  # sealed entries verified
    problem: str | None = None
    entry_id: int | None = None
    pending: int = 0  # committed entries not sealed yet (their MACs verified)
    account_id: int | None = None
    dataset: str | None = None


def _eps(micro: int) -> str:
    return str(Decimal(micro).scaleb(-6).normalize()) if micro else "0"


class _Charges:
    def __init__(self) -> None:
        self.ledger: Counter[tuple[int, int]] = Counter()  # micro-ε per account and dataset
        self.count: Counter[tuple[int, int]] = Counter()
        self.account: Counter[tuple[int, int]] = Counter()
        self.dataset: Counter[int] = Counter()

    def add(self, row: Mapping[Any, Any]) -> str | None:
        """Count a charging entry; the problem if it cannot be one."""
        pays = CHARGES.get((row["action"], row["outcome"]))
        if pays is None:
            return None
        eps, account, dataset = row["epsilon_micro"], row["account_id"], row["dataset_id"]
        if not isinstance(eps, int) or eps <= 0 or account is None or dataset is None:
            return "this charge has no positive ε, account or dataset"
        self.ledger[account, dataset] += eps
        self.count[account, dataset] += 1
        self.dataset[dataset] += eps
        if pays:
            self.account[account, dataset] += eps
        return None


def _walk(s: Session, key: bytes, cp: Checkpoint | None, charges: _Charges) -> Verification:
    if cp is not None and cp.sequence == 0 and cp.hash != GENESIS:
        return Verification(False, 0, "the checkpoint's hash is not the chain's start")
    result = s.execute(
        select(_LOG).where(_LOG.c.seq.is_not(None)).order_by(_LOG.c.seq),
        execution_options={"yield_per": 1000},  # a server-side cursor: any length of log
    )
    try:
        return _links(s, key, cp, charges, result.mappings())
    finally:
        result.close()


def _links(
    s: Session, key: bytes, cp: Checkpoint | None, charges: _Charges, rows: Iterable[Any]
) -> Verification:
    prev, seq, seen = GENESIS, 0, cp is None or cp.sequence == 0
    for row in rows:
        seq += 1
        if row["seq"] != seq or not same(row["prev_hash"], prev):
            return Verification(False, seq - 1, "an entry before this one is missing", row["id"])
        if not same(row["mac"], entry_mac(key, row["nonce"] or "", row)):
            return Verification(
                False, seq - 1, "this entry was changed after it was written", row["id"]
            )
        if not same(row["hash"], link(key, seq, prev, row["mac"])):
            return Verification(False, seq - 1, "this entry's place was changed", row["id"])
        if cp is not None and seq == cp.sequence:
            if not same(row["hash"], cp.hash):
                return Verification(
                    False, seq - 1, "the log was rewritten up to the checkpoint", row["id"]
                )
            seen = True
        if problem := charges.add(row):
            return Verification(False, seq - 1, problem, row["id"])
        prev = row["hash"]
    head = s.execute(select(AuditHead.entries, AuditHead.last_hash)).one()
    if head.entries != seq or head.last_hash != prev:
        return Verification(False, seq, "entries were removed from the end of the log")
    if not seen:
        return Verification(
            False, seq, "the log ends before the checkpoint: entries were removed from its end"
        )
    return Verification(True, seq)


def _pending(s: Session, key: bytes, charges: _Charges) -> tuple[int, Verification | None]:
    n = 0
    rows = s.execute(select(_LOG).where(_LOG.c.seq.is_(None)).order_by(_LOG.c.id)).mappings()
    for row in rows:
        if not same(row["mac"], entry_mac(key, row["nonce"] or "", row)):
            forged = "this entry was not written with the key, or changed before it was sealed"
            return n, Verification(False, 0, forged, row["id"])
        if problem := charges.add(row):
            return n, Verification(False, 0, problem, row["id"])
        n += 1
    copied = s.scalar(select(_LOG.c.mac).group_by(_LOG.c.mac).having(func.count() > 1).limit(1))
    if copied is not None:
        return n, Verification(False, 0, "an entry was copied", None)
    return n, None


def _budgets(s: Session, charges: _Charges) -> Verification | None:
    slugs = dict(s.execute(select(Dataset.id, Dataset.slug)).all())

    def wrong(problem: str, account: int | None, dataset: int) -> Verification:
        return Verification(False, 0, problem, None, 0, account, slugs.get(dataset))

    ledger = {
        (a, d): (n, int(total))
        for a, d, n, total in s.execute(
            select(
                LedgerEntry.account_id,
                LedgerEntry.dataset_id,
                func.count(),
                func.sum(LedgerEntry.epsilon_micro),
            ).group_by(LedgerEntry.account_id, LedgerEntry.dataset_id)
        )
    }
    for a, d in sorted(set(ledger) | set(charges.ledger)):
        n, total = ledger.get((a, d), (0, 0))
        if (n, total) != (charges.count[a, d], charges.ledger[a, d]):
            return wrong(
                f"the ledger of account {a} on dataset {slugs.get(d, d)} holds {n} charges of "
                f"ε {_eps(total)} in all; the audit log holds {charges.count[a, d]} of "
                f"ε {_eps(charges.ledger[a, d])}",
                a,
                d,
            )
    budgets = {
        (b.account_id, b.dataset_id): b.spent_micro for b in s.scalars(select(AccountBudget))
    }
    for a, d in sorted(set(budgets) | set(charges.account)):
        spent = budgets.get((a, d))
        if spent != charges.account[a, d] and not (spent is None and not charges.account[a, d]):
            said = "has no budget row" if spent is None else f"says ε {_eps(spent)} spent"
            return wrong(
                f"account {a}'s budget on dataset {slugs.get(d, d)} {said}; the audit log's "
                f"charges add up to ε {_eps(charges.account[a, d])}",
                a,
                d,
            )
    for d, spent in s.execute(select(Dataset.id, Dataset.spent_micro)):
        if spent != charges.dataset[d]:
            return wrong(
                f"dataset {slugs[d]} says ε {_eps(spent)} spent; the audit log's charges add "
                f"up to ε {_eps(charges.dataset[d])}",
                None,
                d,
            )
    return None


def verify(
    session: Session, key: bytes | None = None, checkpoint: Checkpoint | None = None
) -> Verification:
    """Verify the log and the budgets on one snapshot (read with its own connection)."""
    key = key or key_of(session)
    charges = _Charges()
    bind = session.get_bind()
    with read_snapshot(bind if isinstance(bind, Engine) else bind.engine) as s:
        sealed_with = s.scalar(select(AuditHead.key_id).where(AuditHead.id == 1))
        if sealed_with is not None and sealed_with != key_id(key):
            return Verification(False, 0, str(AuditKeyMismatch()))
        chain = _walk(s, key, checkpoint, charges)
        if not chain.ok:
            return chain
        pending, problem = _pending(s, key, charges)
        if problem is not None:
            return Verification(False, chain.entries, problem.problem, problem.entry_id, pending)
        wrong = _budgets(s, charges)
        if wrong is not None:
            return Verification(
                False, chain.entries, wrong.problem, None, pending, wrong.account_id, wrong.dataset
            )
        return Verification(True, chain.entries, pending=pending)
