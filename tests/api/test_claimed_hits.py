"""A new release is claimed without a lookup first (``api.answers._count``): a release that
this worker does not keep is found by its claim, and must be served exactly as a lookup
served it: the same numbers, free, audited as a cache hit, even where today's plan refuses."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from api.app import create_app
from schema.access import AuditEntry, LedgerEntry
from tests.api.conftest import auth, settings_for

QUERY = {"dataset": "helpline-cases", "group_by": ["gender", "province"], "epsilon": 0.07}


def _books(engine) -> tuple[int, list[str]]:
    with Session(engine) as s:
        spent = s.scalar(select(func.coalesce(func.sum(LedgerEntry.epsilon_micro), 0)))
        outcomes = s.scalars(
            select(AuditEntry.outcome).where(AuditEntry.action == "query").order_by(AuditEntry.id)
        ).all()
    return spent or 0, list(outcomes)


def test_another_worker_serves_a_stored_release_free_through_its_claim(api, world_url):
    client, keys, engine = api
    first = client.post("/v1/queries", json=QUERY, headers=auth(keys["bob"]))
    assert first.status_code == 200 and not first.json()["cached"], first.text
    with TestClient(create_app(settings_for(world_url))) as other:  # a worker that never saw it
        again = other.post("/v1/queries", json=QUERY, headers=auth(keys["alice"]))
        repeat = other.post("/v1/queries", json=QUERY, headers=auth(keys["alice"]))
    for r in (again, repeat):
        assert r.status_code == 200 and r.json()["cached"], r.text
        assert r.json()["release_id"] == first.json()["release_id"]
        assert r.json()["cells"] == first.json()["cells"]
        assert float(r.json()["epsilon_charged"]) == 0
    assert _books(engine) == (70_000, ["released", "cache_hit", "cache_hit"])


def test_a_stored_release_is_served_where_todays_plan_refuses(api, world_url):
    client, keys, engine = api
    first = client.post("/v1/queries", json=QUERY, headers=auth(keys["bob"]))
    assert first.status_code == 200, first.text
    strict = settings_for(world_url, max_cells=4)  # gender × province has more cells
    direct = QUERY | {"source": "direct"}  # not planned first to look for a summary
    with TestClient(create_app(strict)) as other:
        stored = other.post("/v1/queries", json=direct, headers=auth(keys["alice"]))
        new = other.post(
            "/v1/queries", json=direct | {"epsilon": 0.08}, headers=auth(keys["alice"])
        )
    assert stored.status_code == 200 and stored.json()["cached"], stored.text
    assert stored.json()["cells"] == first.json()["cells"]
    assert new.status_code == 422 and new.json()["error"]["code"] == "too_many_cells", new.text
    assert _books(engine)[0] == 70_000


def test_a_new_release_is_not_looked_up_before_its_claim(api):
    client, keys, engine = api
    app_engine = client.app.state.sessions.kw["bind"]
    sent: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        sent.append(" ".join(statement.split())[:60])

    event.listen(app_engine, "before_cursor_execute", record)
    try:
        warm = client.post("/v1/queries", json=QUERY | {"epsilon": 0.01}, headers=auth(keys["bob"]))
        assert warm.status_code == 200  # the key kept, the audit key checked, as in a worker
        sent.clear()
        r = client.post("/v1/queries", json=QUERY, headers=auth(keys["bob"]))
    finally:
        event.remove(app_engine, "before_cursor_execute", record)
    assert r.status_code == 200 and not r.json()["cached"], r.text
    before_claim = sent[: next(i for i, s in enumerate(sent) if s.startswith("SAVEPOINT"))]
    assert not any("FROM releases" in s for s in before_claim), before_claim
    if engine.dialect.name == "postgresql":  # claim + charges + ledger; body + audit entry
        kinds = [s.split()[0] for s in sent[len(before_claim) :]]
        assert " ".join(kinds) == "SAVEPOINT WITH SAVEPOINT SELECT WITH RELEASE"
        assert "INSERT INTO releases" in sent[len(before_claim) + 1]
        assert "UPDATE releases" in sent[len(before_claim) + 4]


def test_a_hit_found_by_its_claim_uses_up_no_release_id(api, world_url):
    """PostgreSQL takes a sequence value before it meets a conflict: a hit that conflicted
    would use up an id (a 32-bit column) and show in the gaps between a caller's own ids."""
    from schema.access import Release

    client, keys, engine = api
    first = client.post("/v1/queries", json=QUERY, headers=auth(keys["bob"]))
    with TestClient(create_app(settings_for(world_url))) as other:  # a worker that never saw it
        for _ in range(3):
            hit = other.post("/v1/queries", json=QUERY, headers=auth(keys["alice"]))
            assert hit.status_code == 200 and hit.json()["cached"], hit.text
    after = client.post("/v1/queries", json=QUERY | {"epsilon": 0.08}, headers=auth(keys["bob"]))
    assert after.status_code == 200 and not after.json()["cached"], after.text
    with Session(engine) as s:
        ids = [
            s.scalar(select(Release.id).where(Release.public_id == r.json()["release_id"]))
            for r in (first, after)
        ]
    assert ids[1] == ids[0] + 1
