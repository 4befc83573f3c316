"""``schema.db.ping_when_idle``: a pooled connection is pinged before use only after lying
idle, and one the server closed while it lay idle is replaced before a request sees it; a
connection used a moment ago is taken without a round trip."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, text

from schema.db import make_engine, ping_when_idle

pytestmark = pytest.mark.postgres

IDLE_S = 0.3


@pytest.fixture
def pinging(pg_migrated_url, monkeypatch):
    engine = make_engine(pg_migrated_url, pool_size=1, max_overflow=0)
    pings: list[object] = []
    real = engine.dialect.do_ping

    def counted(dbapi_connection):
        pings.append(dbapi_connection)
        return real(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    ping_when_idle(engine, IDLE_S)
    yield engine, pings
    engine.dispose()


def _backend(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_used_a_moment_ago_is_not_pinged(pinging):
    engine, pings = pinging
    first = _backend(engine)  # a new connection: not pinged either
    assert [_backend(engine) for _ in range(5)] == [first] * 5
    assert pings == []
    time.sleep(IDLE_S + 0.1)
    assert _backend(engine) == first  # idle: pinged, alive, kept
    assert len(pings) == 1


def test_a_connection_closed_while_idle_is_replaced_before_use(pinging, pg_migrated_url):
    engine, pings = pinging
    first = _backend(engine)
    admin = create_engine(pg_migrated_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # as a restarted database does to every connection
        assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": first}).scalar()
    admin.dispose()
    time.sleep(IDLE_S + 0.1)
    second = _backend(engine)  # no error: the ping failed, the pool made another
    assert second != first and len(pings) == 1
