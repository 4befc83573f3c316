import threading

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from schema.repositories import audit


def _append(engine, n):
    for i in range(n):
        with Session(engine) as s, s.begin():
            audit.append(
                s, action="query", outcome="released", epsilon_micro=100_000 + i, detail={"n": i}
            )


def test_chain_verifies_and_detects_edits_and_deletions(engine):
    _append(engine, 5)
    with Session(engine) as s:
        assert audit.verify(s) == audit.Verification(True, 5)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET outcome = 'refused' WHERE id = 3"))
    with Session(engine) as s:
        result = audit.verify(s)
    assert (result.ok, result.entry_id, result.entries) == (False, 3, 2)
    assert "changed" in result.problem


def test_deleting_an_entry_breaks_the_chain(engine):
    _append(engine, 4)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = 2"))
    with Session(engine) as s:
        result = audit.verify(s)
    assert (result.ok, result.entry_id) == (False, 3)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id >= 2"))
    with Session(engine) as s:
        result = audit.verify(s)
    assert not result.ok and "removed from the end" in result.problem


@pytest.mark.postgres
def test_concurrent_appends_form_one_chain(pg_migrated_url):
    from schema.db import make_engine

    engine = make_engine(pg_migrated_url, pool_size=8)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE audit_log RESTART IDENTITY CASCADE"))
        conn.execute(text("UPDATE audit_head SET last_hash = :g, entries = 0"), {"g": "0" * 64})
    threads = [threading.Thread(target=_append, args=(engine, 5)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with Session(engine) as s:
        assert audit.verify(s) == audit.Verification(True, 40)
    engine.dispose()
