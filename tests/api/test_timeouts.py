"""Waits on the database are bounded, and a wait that runs out is a clean 503 in the API's
shape (with Retry-After), not a 500: nothing of the request is kept."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from api.app import create_app
from schema.access import AccountBudget, LedgerEntry, Release
from schema.db import is_busy, make_engine
from schema.models import Dataset
from tests.api.conftest import auth, settings_for

QUERY = {"dataset": "helpline-cases", "group_by": ["gender"], "epsilon": 0.1}


@pytest.mark.postgres
def test_every_connection_carries_the_timeouts(pg_migrated_url):
    settings = settings_for(
        pg_migrated_url,
        lock_timeout_ms=1234,
        statement_timeout_ms=5678,
        idle_in_transaction_timeout_ms=9012,
    )
    app = create_app(settings)
    with app.state.sessions() as s:
        shown = [s.scalar(text(f"SHOW {name}")) for name in ("lock_timeout", "statement_timeout")]
        idle = s.scalar(text("SHOW idle_in_transaction_session_timeout"))
    assert shown == ["1234ms", "5678ms"] and idle == "9012ms"
    app.state.sessions.kw["bind"].dispose()


@pytest.mark.postgres
def test_a_transaction_left_idle_is_ended_by_the_server(pg_migrated_url):
    app = create_app(settings_for(pg_migrated_url, idle_in_transaction_timeout_ms=200))
    engine = app.state.sessions.kw["bind"]
    with app.state.sessions() as s:
        pid = s.scalar(text("SELECT pg_backend_pid()"))
        # Wait until the server has ended the idle session (seen from another connection),
        # not for a fixed time: a loaded machine may be late. 60 s is only a hang guard.
        deadline = time.monotonic() + 60
        with engine.connect() as watcher:
            alive = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
            while watcher.execute(alive, {"pid": pid}).scalar():
                assert time.monotonic() < deadline, "the idle transaction was never ended"
                watcher.rollback()  # a fresh snapshot of pg_stat_activity each time
                time.sleep(0.05)
        with pytest.raises(Exception) as raised:
            s.execute(text("SELECT 1"))
        assert is_busy(raised.value)
    app.state.sessions.kw["bind"].dispose()


def _hold_the_lock(engine):
    """Another connection holding what a released query must write."""
    conn = engine.connect()
    # On SQLite every transaction begins IMMEDIATE (schema.db): this takes the writer lock.
    conn.execute(select(Dataset.id).with_for_update())  # plain SELECT on SQLite
    return conn


GQL = """mutation { countCases(query: {dataset: "helpline-cases", groupBy: [GENDER],
  epsilon: 0.1}) { cached } }"""


def _rest(client, key):
    r = client.post("/v1/queries", json=QUERY, headers=auth(key))
    assert r.status_code == 503 and r.headers["retry-after"] == "1"
    assert r.json()["error"]["code"] == "busy"


def _graphql(client, key):
    r = client.post("/graphql", json={"query": GQL}, headers=auth(key))
    if r.status_code == 503:  # met before any resolver ran, as a refused key is (SQLite: the
        # credential's check reads in the request's transaction, which takes the writer lock)
        assert r.headers["retry-after"] == "1" and r.json()["error"]["code"] == "busy"
        return
    (error,) = r.json()["errors"]
    assert error["extensions"]["code"] == "busy" and "retry" in error["message"]


@pytest.mark.parametrize("ask", [_rest, _graphql])
def test_a_lock_wait_past_its_bound_is_busy_and_keeps_nothing(world_url, world_keys, ask):
    keys, engine = world_keys, make_engine(world_url)
    app = create_app(settings_for(world_url, lock_timeout_ms=300))
    with TestClient(app) as client:
        client.get("/v1/me", headers=auth(keys["alice"]))  # the key's touch, done now
        pool = ThreadPoolExecutor(1)
        holder = _hold_the_lock(engine)
        try:  # an unbounded wait would hang: the guard fails the test instead
            pool.submit(ask, client, keys["alice"]).result(timeout=60)
        finally:
            holder.rollback()
            holder.close()
            pool.shutdown()
        with Session(engine) as s:
            assert s.scalar(select(func.count()).select_from(Release)) == 0
            assert s.scalar(select(func.count()).select_from(LedgerEntry)) == 0
            assert set(s.scalars(select(AccountBudget.spent_micro))) == {0}
        again = client.post("/v1/queries", json=QUERY, headers=auth(keys["alice"]))
        assert again.status_code == 200 and not again.json()["cached"]
    engine.dispose()
