"""The sequencer: appends take no shared lock, one sealer at a time chains what is committed,
and entries that commit out of id order are chained without a hole."""

import random
import threading
import time

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from schema.access import AuditEntry
from schema.db import Timeouts, make_engine
from schema.repositories import audit, audit_seal
from schema.repositories.audit_verify import KEY_INFO
from tests.conftest import _truncate

KEY = b"a-test-audit-key-0123456789"
BOUNDED = Timeouts(lock_ms=3000, statement_ms=10_000, idle_in_transaction_ms=20_000)


def keyed(engine):
    return Session(engine, info={KEY_INFO: KEY})


@pytest.fixture
def pg_engine(pg_migrated_url):
    engine = make_engine(pg_migrated_url, timeouts=BOUNDED)
    _truncate(engine)
    yield engine
    _truncate(engine)
    engine.dispose()


def _seqs(engine):
    with Session(engine) as s:
        return dict(s.execute(select(AuditEntry.id, AuditEntry.seq)).all())


@pytest.mark.postgres
def test_entries_committed_out_of_id_order_are_chained_without_a_hole(pg_engine):
    engine = pg_engine
    late = keyed(engine)
    late.begin()
    first_id = audit.append(late, action="admin.test", outcome="late")  # id taken, not committed
    with keyed(engine) as s, s.begin():
        second_id = audit.append(s, action="admin.test", outcome="early")
    assert second_id > first_id
    assert audit_seal.seal_pending(engine, KEY) == 1  # only what is committed
    late.commit()
    late.close()
    assert audit_seal.seal_pending(engine, KEY) == 1
    assert _seqs(engine) == {second_id: 1, first_id: 2}
    with Session(engine) as s:
        assert audit.verify(s, KEY) == audit.Verification(True, 2)


@pytest.mark.postgres
def test_a_second_sealer_skips_instead_of_waiting(pg_engine):
    engine = pg_engine
    with keyed(engine) as s, s.begin():
        audit.append(s, action="admin.test", outcome="done")
    holder = keyed(engine)
    holder.begin()
    assert audit_seal.seal(holder, KEY) == 1  # holds the head's lock until it commits
    with keyed(engine) as s, s.begin():
        s.execute(text("SET LOCAL lock_timeout = '60s'"))  # waiting would hang the test here
        assert audit_seal.seal(s, KEY) == 0  # it skipped: the holder has not committed yet
    holder.commit()
    holder.close()
    with Session(engine) as s:
        assert audit.verify(s, KEY) == audit.Verification(True, 1)


def _writer(engine, n, seed, errors):
    rng = random.Random(seed)
    try:
        for i in range(n):
            with keyed(engine) as s, s.begin():
                audit.append(s, action="admin.test", outcome="done", detail={"w": seed, "i": i})
                time.sleep(rng.random() * 0.005)  # commit at some point after the insert
    except Exception as exc:
        errors.append(exc)


def _sealer(engine, stop, errors):
    try:
        while not stop.is_set():
            audit_seal.seal_pending(engine, KEY)
    except Exception as exc:
        errors.append(exc)


def test_concurrent_writers_and_sealers_form_one_chain(db_url):
    engine = make_engine(db_url, timeouts=BOUNDED, pool_size=10, max_overflow=0)
    errors: list[Exception] = []
    stop = threading.Event()
    sealers = [threading.Thread(target=_sealer, args=(engine, stop, errors)) for _ in range(2)]
    writers = [threading.Thread(target=_writer, args=(engine, 25, i, errors)) for i in range(6)]
    for t in sealers + writers:
        t.start()
    for t in writers:
        t.join(timeout=120)
    stop.set()
    for t in sealers:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in sealers + writers) and errors == []
    audit_seal.seal_pending(engine, KEY)
    seqs = _seqs(engine)
    assert len(seqs) == 150 and sorted(seqs.values()) == list(range(1, 151))
    with Session(engine) as s:
        assert audit.verify(s, KEY) == audit.Verification(True, 150)
        assert audit_seal.seal_lag(s) is None
    with engine.connect() as conn:  # every writer's entries are in the chain, each once
        per_writer = conn.execute(
            text("SELECT detail FROM audit_log WHERE seq IS NOT NULL")
        ).scalars()
        assert len(set(per_writer)) == 150
    engine.dispose()
