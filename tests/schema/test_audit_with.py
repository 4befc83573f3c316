"""``audit.append(..., before=...)``: an entry written in one statement with another write
(PostgreSQL) is the same entry as one written alone: the same columns, a MAC that verifies,
sealed into the chain like any other; and the other write happens with it, or not at all."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from schema.access import AuditEntry
from schema.repositories import audit
from schema.repositories.audit_chain import HASHED
from tests.schema.test_audit import _seal, _verify, keyed

MARK = "marked AS (UPDATE audit_head SET entries = entries WHERE id = :head_id RETURNING id)"
FIELDS = {
    "action": "admin.test",  # charges nothing (verify would look for a "released" one's)
    "outcome": "done",
    "account_id": None,
    "dataset_id": None,
    "version_id": None,
    "canonical_key": "k" * 64,
    "epsilon_micro": None,
    "detail": {"release": "r_0123"},
}


@pytest.fixture
def pg_engine(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no data-modifying WITH")
    return engine


def test_the_insert_after_a_cte_binds_every_column_an_entry_has():
    with_cte = audit._INSERT_SQL.split("VALUES")[0]
    named = {c.strip(" ()\n") for c in with_cte.split("(", 1)[1].split(",")}
    assert named == {*audit.fields("query", "").keys(), "nonce", "mac"}
    assert {c.name for c in audit._LOG.columns} >= named


def test_an_entry_written_with_another_statement_is_the_same_entry(pg_engine):
    with keyed(pg_engine) as s, s.begin():
        alone = audit.append(s, **FIELDS)
        with_it = audit.append(s, **FIELDS, before=(MARK, {"head_id": 1}))
        again = audit.append(s, **FIELDS, before=(MARK, {"head_id": 1}))  # built once, reused
    assert len({alone, with_it, again}) == 3
    with Session(pg_engine) as s:
        rows = {e.id: e for e in s.scalars(select(AuditEntry))}
        fields = [{n: getattr(rows[i], n) for n in HASHED if n != "at"} for i in (alone, with_it)]
        assert fields[0] == fields[1]
        assert rows[with_it].mac != rows[alone].mac  # each its own nonce
    assert _seal(pg_engine) == 3
    verified = _verify(pg_engine)
    assert verified == audit.Verification(True, 3, pending=0), verified


def test_the_other_statement_fails_with_its_entry(pg_engine):
    broken = "broken AS (UPDATE audit_head SET entries = entries / 0 WHERE id = :head_id)"
    with keyed(pg_engine) as s, s.begin():
        with pytest.raises(Exception), s.begin_nested():  # noqa: B017 (any DB error)
            audit.append(s, **FIELDS, before=(broken, {"head_id": 1}))
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 0
        assert s.execute(text("SELECT entries FROM audit_head")).scalar_one() == 0
