"""Upgrading a warehouse whose audit log has the first schema's unkeyed SHA-256 chain: the
first seal checks that chain, re-seals its entries under the key in their old order and
records that it did (and whether the old chain was intact)."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from schema.access import AuditEntry
from schema.db import make_engine
from schema.migrate import downgrade, upgrade
from schema.repositories import audit, audit_seal
from schema.repositories.audit_chain import GENESIS, legacy_hash

KEY = b"a-test-audit-key-0123456789"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_url(request, tmp_path):
    """An empty database on each backend, not migrated."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    return request.getfixturevalue("pg_databases").create()


def _legacy_log(url, n, break_at=None):
    """A warehouse at 0005 with ``n`` entries chained the old way."""
    upgrade(url, "0005")
    engine = make_engine(url)
    prev = GENESIS
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        for i in range(n):
            values = {
                "at": start + timedelta(minutes=i),
                "account_id": None,
                "action": "budget.dataset",
                "outcome": "set",
                "dataset_id": None,
                "version_id": None,
                "canonical_key": None,
                "epsilon_micro": None,
                "detail": json.dumps({"n": i}),
            }
            digest = legacy_hash(prev, values)
            conn.execute(
                text(
                    "INSERT INTO audit_log (at, action, outcome, detail, prev_hash, hash) "
                    "VALUES (:at, :action, :outcome, :detail, :prev, :hash)"
                ),
                values | {"prev": prev, "hash": digest},
            )
            prev = digest
        conn.execute(
            text("UPDATE audit_head SET last_hash = :h, entries = :n"), {"h": prev, "n": n}
        )
        if break_at is not None:
            conn.execute(text("UPDATE audit_log SET outcome = 'x' WHERE id = :i"), {"i": break_at})
    engine.dispose()
    upgrade(url)
    return prev


@pytest.mark.parametrize("broken", [False, True])
def test_old_entries_are_resealed_under_the_key(fresh_url, broken):
    url = fresh_url
    old_head = _legacy_log(url, 4, break_at=2 if broken else None)
    engine = make_engine(url)
    assert audit_seal.seal_pending(engine, KEY) == 5
    with Session(engine) as s:
        assert audit.verify(s, KEY) == audit.Verification(True, 5)
        entries = s.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
    assert [e.id for e in entries] == [1, 2, 3, 4, 5]  # the old order, then the record
    record = entries[-1]
    assert record.action == "audit.rekeyed"
    assert json.loads(record.detail) == {
        "legacy_entries": 4,
        "legacy_head": old_head,
        "problem": "this entry was changed after it was written" if broken else None,
        "entry_id": 2 if broken else None,
    }
    assert record.outcome == ("rekeyed_broken" if broken else "rekeyed")
    engine.dispose()


def test_downgrading_restores_an_unkeyed_chain(fresh_url):
    url = fresh_url
    _legacy_log(url, 3)
    engine = make_engine(url)
    audit_seal.seal_pending(engine, KEY)
    engine.dispose()
    downgrade(url, "0005")
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM audit_log ORDER BY id")).mappings().all()
        head = conn.execute(text("SELECT last_hash, entries FROM audit_head")).one()
    prev = GENESIS
    for row in rows:
        at = row["at"] if isinstance(row["at"], datetime) else datetime.fromisoformat(row["at"])
        values = dict(row) | {"at": at}
        assert row["prev_hash"] == prev and row["hash"] == legacy_hash(prev, values)
        prev = row["hash"]
    assert tuple(head) == (prev, 4)
    engine.dispose()
