"""The audit log: entries written without a shared lock, sealed into a keyed chain, and a
chain that cannot be rewritten without the key (nor truncated past a checkpoint)."""

import json

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from schema.access import AuditEntry, AuditHead
from schema.repositories import audit, audit_seal
from schema.repositories.audit_chain import GENESIS, HASHED, entry_mac, link
from schema.repositories.audit_verify import KEY_INFO

KEY = b"a-test-audit-key-0123456789"


def keyed(engine):
    return Session(engine, info={KEY_INFO: KEY})


def _append(engine, n, **fields):
    for i in range(n):
        with keyed(engine) as s, s.begin():
            audit.append(s, action="admin.test", outcome="done", detail={"n": i}, **fields)


def _seal(engine):
    return audit_seal.seal_pending(engine, KEY)


def _verify(engine, checkpoint=None):
    with Session(engine) as s:
        return audit.verify(s, KEY, checkpoint)


def _checkpoint(engine):
    with Session(engine) as s:
        return audit.parse_checkpoint(json.dumps(audit.checkpoint(s)))


def _rechain(engine, key):
    """What an attacker who knows ``key`` does after editing: every MAC and hash anew."""
    with Session(engine) as s, s.begin():
        prev, seq = GENESIS, 0
        for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq)):
            seq += 1
            e.mac = entry_mac(key, e.nonce, {n: getattr(e, n) for n in HASHED})
            e.seq, e.prev_hash, e.hash = seq, prev, link(key, seq, prev, e.mac)
            prev = e.hash
        s.execute(update(AuditHead).values(entries=seq, last_hash=prev))


def test_entries_are_pending_until_sealed_then_chained_in_order(engine):
    with keyed(engine) as s, s.begin():
        audit.append(s, action="admin.test", outcome="done")
    with Session(engine) as s:
        assert audit_seal.seal_lag(s) is not None
    _append(engine, 4)
    assert _verify(engine) == audit.Verification(True, 0, pending=5)
    assert _seal(engine) == 5 and _seal(engine) == 0
    assert _verify(engine) == audit.Verification(True, 5)
    with Session(engine) as s:
        assert s.scalars(select(AuditEntry.seq).order_by(AuditEntry.id)).all() == [1, 2, 3, 4, 5]
        assert audit_seal.seal_lag(s) is None
        head = s.get(AuditHead, 1)
        assert (head.entries, head.keyed) == (5, True)


def test_an_edit_or_a_deletion_breaks_the_chain(engine):
    _append(engine, 5)
    _seal(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET outcome = 'refused' WHERE seq = 3"))
    result = _verify(engine)
    assert (result.ok, result.entries) == (False, 2) and "changed" in result.problem
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 3"))
    result = _verify(engine)
    assert (result.ok, result.entries) == (False, 2) and "missing" in result.problem


def test_recomputing_every_hash_without_the_key_fails(engine):
    _append(engine, 4)
    _seal(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET detail = '{\"n\": 99}' WHERE seq = 2"))
    _rechain(engine, b"a-guess-at-the-key-0000000000")
    result = _verify(engine)
    assert (result.ok, result.entries) == (False, 0) and "changed" in result.problem


def test_removing_the_newest_entries_and_the_head_is_caught_by_a_checkpoint(engine):
    _append(engine, 5)
    _seal(engine)
    kept = _checkpoint(engine)
    assert kept.sequence == 5
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq > 3"))
        hash3 = conn.execute(text("SELECT hash FROM audit_log WHERE seq = 3")).scalar_one()
        conn.execute(text("UPDATE audit_head SET entries = 3, last_hash = :h"), {"h": hash3})
    assert _verify(engine).ok  # what the chain alone cannot see
    result = _verify(engine, kept)
    assert not result.ok and "ends before the checkpoint" in result.problem


def test_a_checkpoint_catches_a_rewrite_before_it_even_with_the_key(engine):
    _append(engine, 3)
    _seal(engine)
    kept = _checkpoint(engine)
    _append(engine, 2)
    _seal(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET outcome = 'refused' WHERE seq = 2"))
    _rechain(engine, KEY)  # a stolen key rewrites the chain consistently
    assert _verify(engine).ok
    result = _verify(engine, kept)
    assert not result.ok and "rewritten up to the checkpoint" in result.problem
    assert _verify(engine, audit.Checkpoint(0, GENESIS)).ok


def test_an_entry_written_without_the_key_is_never_sealed(engine):
    _append(engine, 2)
    with keyed(engine) as s, s.begin():
        forged = audit.append(s, action="budget.account", outcome="set")
        s.execute(update(AuditEntry).where(AuditEntry.id == forged).values(mac="0" * 64))
    _append(engine, 1)
    assert _seal(engine) == 3
    result = _verify(engine)
    assert (result.ok, result.entry_id) == (False, forged) and "key" in result.problem
    with Session(engine) as s:
        assert s.get(AuditEntry, forged).seq is None and audit_seal.seal_lag(s) is not None


def test_a_charge_in_the_log_without_its_budget_fails(engine):
    with keyed(engine) as s, s.begin():
        audit.append(s, action="query", outcome="released", epsilon_micro=100_000)
    result = _verify(engine)
    assert not result.ok and "no positive ε, account or dataset" in result.problem


@pytest.mark.parametrize(
    "text_, problem",
    [
        ("not json", "must be the JSON"),
        ('{"sequence": -1, "hash": "' + "a" * 64 + '"}', "whole number"),
        ('{"sequence": "7", "hash": "' + "a" * 64 + '"}', "whole number"),
        ('{"sequence": 7, "hash": "' + "A" * 64 + '"}', "64 lowercase"),
        ("[1]", "JSON object"),
        (" " * 5000, "small JSON object"),
    ],
)
def test_checkpoints_are_parsed_strictly(text_, problem):
    with pytest.raises(ValueError, match=problem):
        audit.parse_checkpoint(text_)


def test_switching_keyed_off_by_hand_rewrites_nothing(engine):
    _append(engine, 3)
    _seal(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_head SET keyed = false"))
        conn.execute(
            text(
                "INSERT INTO audit_log (at, action, outcome, detail) VALUES (:at, 'x', 'y', '{}')"
            ),
            {"at": "2026-01-01 00:00:00"},
        )
    _append(engine, 1)
    assert _seal(engine) == 1  # the keyed entry; the one without a MAC stays out
    result = _verify(engine)
    assert (result.ok, result.entries) == (False, 4) and "key" in result.problem


def test_every_charging_action_is_a_declared_action():
    from schema.access import AUDIT_ACTIONS
    from schema.repositories.audit_verify import CHARGES

    assert {action for action, _ in CHARGES} <= set(AUDIT_ACTIONS)
