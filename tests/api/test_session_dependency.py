"""The request's session (``api.deps.get_session``): only what waits on the database takes a
thread, and every request ends its transaction before its response, whether the route
committed in its own thread (``finish``), the dependency committed, or the route refused."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schema.access import AuditEntry
from tests.api.conftest import auth

QUERY = {"dataset": "helpline-cases", "group_by": ["gender"], "epsilon": 0.05}


def _checked_out(client) -> int:
    return client.app.state.sessions.kw["bind"].pool.checkedout()


def _entries(engine, outcome: str) -> int:
    with Session(engine) as session:
        query = select(func.count()).where(AuditEntry.outcome == outcome)
        return session.scalar(query.select_from(AuditEntry)) or 0


def test_every_hit_is_committed_before_its_response(api):
    client, keys, engine = api
    hits_before = _entries(engine, "cache_hit")
    first = client.post("/v1/queries", json=QUERY, headers=auth(keys["alice"]))
    assert first.status_code == 200 and first.json()["cached"] is False
    assert _checked_out(client) == 0
    for n in range(1, 6):
        hit = client.post("/v1/queries", json=QUERY, headers=auth(keys["alice"]))
        assert hit.status_code == 200 and hit.json()["cached"] is True
        assert hit.json()["release_id"] == first.json()["release_id"]
        assert _checked_out(client) == 0  # no transaction left open by the route
        assert _entries(engine, "cache_hit") == hits_before + n  # seen from another session


def test_a_refused_query_ends_its_transaction(api):
    client, keys, _ = api
    assert client.post("/v1/queries", json=QUERY, headers=auth(keys["alice"])).status_code == 200
    bad = QUERY | {"group_by": ["no_such_dimension"]}
    for _ in range(3):  # a cached identity, checked in the route's transaction, then refused
        refused = client.post("/v1/queries", json=bad, headers=auth(keys["alice"]))
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert (error["code"], error["field"]) == ("invalid_query", "group_by")
        assert "no_such_dimension" in error["message"]
        assert _checked_out(client) == 0
    again = client.post("/v1/queries", json=QUERY, headers=auth(keys["alice"]))
    assert again.status_code == 200 and again.json()["cached"] is True


def test_the_query_route_answers_for_the_admitted_caller(api):
    """``POST /v1/queries`` takes its caller from what the router's get_principal admitted
    (``api.deps.admitted``): each key's hit is audited under its own account, and shows that
    account's budget."""
    from schema.repositories import accounts

    client, keys, engine = api
    with Session(engine) as session:
        ids = {n: accounts.by_name(session, n).id for n in ("alice", "bob")}
    for name in ("alice", "bob", "alice", "bob"):
        response = client.post("/v1/queries", json=QUERY, headers=auth(keys[name]))
        assert response.status_code == 200, response.text
        with Session(engine) as session:
            newest = session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "query")
                .order_by(AuditEntry.id.desc())
                .limit(1)
            ).one()
        assert newest.account_id == ids[name]
        # alice's limit is 0.25, bob's 1.0: each sees their own budget's remainder
        assert (response.json()["budget_remaining"] <= 0.25) == (name == "alice")


def test_admitted_refuses_a_request_no_principal_was_admitted_for():
    """A route that calls ``admitted`` without the router's get_principal before it refuses,
    rather than answer for an identity nobody verified."""
    import pytest
    from starlette.requests import Request

    from api.deps import admitted
    from api.errors import Unauthorized

    request = Request({"type": "http", "method": "POST", "path": "/", "headers": [], "state": {}})
    request.state.identity = ("an unverified account", None)
    with pytest.raises(Unauthorized):
        admitted(request)


def test_a_hit_takes_one_thread_hop(api, monkeypatch):
    """A cache hit with a cached identity: the check of the identity, the route and its
    commit run in one thread (``verifies_itself``); a route that does not check it itself
    (``GET /v1/me``) still has it checked by the session's dependency, in a thread."""
    import anyio.to_thread

    client, keys, _ = api
    for _ in range(2):  # the release stored, then the key and the release kept by the worker
        assert client.post("/v1/queries", json=QUERY, headers=auth(keys["alice"])).status_code
    hops: list[str] = []
    run_sync = anyio.to_thread.run_sync

    async def counted(func, *args, **kwargs):
        named = getattr(func, "func", func)  # run_in_threadpool's partial
        hops.append(getattr(named, "__name__", type(named).__name__))
        return await run_sync(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    hit = client.post("/v1/queries", json=QUERY, headers=auth(keys["alice"]))
    assert hit.status_code == 200 and hit.json()["cached"] is True
    assert len(hops) == 1, hops
    hops.clear()
    assert client.get("/v1/me", headers=auth(keys["alice"])).status_code == 200
    assert "verify" in hops


def test_a_route_that_verifies_itself_must_call_admitted(api):
    """A route marked ``verifies_itself`` that never checks the cached identity answers
    nothing: the session's dependency refuses to end it as answered."""
    from fastapi.testclient import TestClient

    from api.deps import SessionDep, verifies_itself

    client, keys, _ = api

    @verifies_itself
    def forgetful(session: SessionDep) -> dict[str, str]:
        return {"answered": "for an unchecked key"}

    client.app.add_api_route("/v1/forgetful", forgetful, methods=["GET"])
    assert client.get("/v1/me", headers=auth(keys["alice"])).status_code == 200  # cached
    quiet = TestClient(client.app, raise_server_exceptions=False)
    refused = quiet.get("/v1/forgetful", headers=auth(keys["alice"]))
    assert refused.status_code == 500 and "unchecked" not in refused.text
    assert _checked_out(client) == 0
