"""``/readyz``: 200 only when the warehouse answers and is at this code's newest revision;
503 naming why otherwise. ``/healthz`` stays liveness only, whatever the database does."""

from fastapi.testclient import TestClient

from api.app import create_app
from schema.migrate import head, upgrade
from tests.api.conftest import settings_for

DEAD = "postgresql+psycopg://postgres@127.0.0.1:1/nothing"  # nothing listens on port 1


def _client(url):
    # No lifespan: no sealer to start. Checked anew on every probe: the tests change the schema.
    return TestClient(create_app(settings_for(url, readiness_interval=0)))


def test_ready_when_migrated(db_url):
    r = _client(db_url).get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "revision": head()}


def test_unmigrated_warehouse_is_not_ready(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    client = _client(url)
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["reason"] == "the warehouse has no schema yet: run `amaan db upgrade`"
    upgrade(url, "0007")
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["reason"] == (
        f"the warehouse is at revision 0007, this version needs {head()}: run `amaan db upgrade`"
    )
    upgrade(url)
    assert client.get("/readyz").status_code == 200
    assert client.get("/healthz").json() == {"status": "ok"}


def test_dead_database_is_not_ready_but_alive():
    client = _client(DEAD)
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json() == {
        "status": "unavailable",
        "reason": "the database at AMAAN_DATABASE_URL is unreachable (OperationalError)",
    }
    assert "127.0.0.1" not in r.text and "nothing" not in r.text  # the URL is not echoed
    assert client.get("/healthz").status_code == 200


def test_a_flood_of_probes_checks_the_database_once_per_interval(db_url):
    from sqlalchemy import event

    from api.readiness import Readiness
    from schema.db import make_engine

    engine = make_engine(db_url)
    checkouts = []
    event.listen(engine, "checkout", lambda *_: checkouts.append(1))
    now = [100.0]
    ready = Readiness(engine, head(), ttl=1.0, clock=lambda: now[0])
    assert [ready.check() for _ in range(50)] == [None] * 50
    assert len(checkouts) == 1  # one connection for fifty probes
    now[0] += 1.0
    assert ready.check() is None and len(checkouts) == 2
    engine.dispose()


def test_a_probe_never_waits_for_a_check_in_progress(db_url):
    from api.readiness import CHECKING, Readiness
    from schema.db import make_engine

    engine = make_engine(db_url)
    ready = Readiness(engine, head(), ttl=1.0, clock=lambda: 100.0)
    with ready.lock:  # a check in progress, as another thread would hold it
        assert ready.check() == CHECKING  # no result yet: not ready, and no wait
    assert ready.check() is None
    ready.checked_at = 0.0  # stale, and another check running: the last result at once
    with ready.lock:
        assert ready.check() is None
    engine.dispose()
