"""Repeated cache hits answered below the route (``api.hits``): the same bytes, headers and
audit entry as the route's, on both backends, and the route again whenever anything the
answer relies on changed or differs (the generation, the budget, the request's bytes)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from api import answers, hits
from schema.access import Account, AuditEntry
from schema.repositories import audit, audit_seal
from schema.repositories.audit_verify import KEY_INFO
from tests.api.conftest import auth

QUERY = {"dataset": "helpline-cases", "group_by": ["gender"], "epsilon": 0.05}
SAME = ("action", "outcome", "account_id", "dataset_id", "version_id", "canonical_key")


@pytest.fixture
def routed(monkeypatch):
    """How many requests reached the route's release service."""
    calls: list[object] = []
    real = answers.answer

    def counting(*args, **kwargs):
        calls.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(answers, "answer", counting)
    return calls


def _hit_entries(engine, name: str) -> list[tuple]:
    with Session(engine) as s:
        account = s.scalar(select(Account.id).where(Account.name == name))
        rows = s.scalars(
            select(AuditEntry)
            .where(AuditEntry.account_id == account, AuditEntry.outcome == "cache_hit")
            .order_by(AuditEntry.id)
        )
        return [tuple(getattr(e, n) for n in (*SAME, "epsilon_micro", "detail")) for e in rows]


def _fixed(headers) -> dict[str, str]:
    """The headers but the rate limit's count, which moves with every request."""
    return {k: v for k, v in headers.items() if not k.startswith("x-ratelimit-")}


def _post(client, key: str, **kw):
    return client.post("/v1/queries", headers=auth(key) | kw.pop("headers", {}), **kw)


def test_a_repeated_hit_is_the_routes_answer_byte_for_byte(api, routed, caplog):
    client, keys, engine = api
    assert _post(client, keys["alice"], json=QUERY).json()["cached"] is False  # released
    by_route = _post(client, keys["alice"], json=QUERY)  # a hit through the route: kept
    assert len(routed) == 2
    with caplog.at_level(logging.INFO, logger="amaan.requests"):
        repeats = [_post(client, keys["alice"], json=QUERY) for _ in range(4)]
    assert len(routed) == 2, "the repeats were answered by the route"
    for repeat in repeats:
        assert repeat.status_code == 200
        assert repeat.content == by_route.content
        assert _fixed(repeat.headers) == _fixed(by_route.headers)
    entries = _hit_entries(engine, "alice")
    assert len(entries) == 5 and len(set(entries)) == 1  # the route's entry, each time
    lines = [r.getMessage() for r in caplog.records if r.name == "amaan.requests"]
    assert len(lines) == 4 and all('"route": "/v1/queries"' in line for line in lines)
    verified = client.get("/v1/admin/audit/verify", headers=auth(keys["admin"])).json()
    assert verified["ok"] is True, verified


def test_the_budget_shown_is_read_on_every_hit(api, routed):
    client, keys, _ = api
    for _ in range(3):
        kept = _post(client, keys["alice"], json=QUERY).json()
    assert len(routed) == 2 and kept["budget_remaining"] == pytest.approx(0.2)
    spent = _post(client, keys["alice"], json=QUERY | {"epsilon": 0.1}).json()
    assert spent["budget_remaining"] == pytest.approx(0.1)
    again = _post(client, keys["alice"], json=QUERY).json()
    assert len(routed) == 3 and again["budget_remaining"] == pytest.approx(0.1)
    assert again["release_id"] == kept["release_id"] and again["cached"] is True


def test_a_changed_generation_or_a_removed_budget_goes_to_the_route(api, routed):
    client, keys, engine = api
    for _ in range(3):
        assert _post(client, keys["alice"], json=QUERY).status_code == 200
    assert len(routed) == 2
    with engine.begin() as conn:  # budgets are not in the generation: checked on each hit
        conn.execute(
            text(
                "DELETE FROM account_budgets WHERE account_id = "
                "(SELECT id FROM accounts WHERE name = 'alice')"
            )
        )
    refused = _post(client, keys["alice"], json=QUERY)
    assert refused.status_code == 403 and len(routed) == 3, refused.text
    for _ in range(3):
        assert _post(client, keys["bob"], json=QUERY).status_code == 200
    me = client.get("/v1/me", headers=auth(keys["bob"])).json()
    revoked = client.delete(
        f"/v1/admin/accounts/{me['id']}/grants/helpline-cases", headers=auth(keys["admin"])
    )
    assert revoked.status_code == 204
    routed.clear()
    gone = _post(client, keys["bob"], json=QUERY)
    assert gone.status_code == 404 and len(routed) == 1, gone.text


@pytest.mark.parametrize(
    "change",
    [
        {"params": {"layout": "columns"}},
        {"headers": {"Accept": "text/csv"}},
        {"content": b'{"dataset": "helpline-cases", "group_by": ["gender"], "epsilon": 0.05} '},
    ],
    ids=["query string", "accept", "body bytes"],
)
def test_a_request_that_differs_in_any_byte_the_route_reads_is_the_routes(api, routed, change):
    client, keys, _ = api
    for _ in range(3):
        kept = _post(client, keys["alice"], json=QUERY)
    assert len(routed) == 2
    headers = {"Content-Type": "application/json"} | change.get("headers", {})
    other = _post(client, keys["alice"], **({"json": QUERY} | change | {"headers": headers}))
    assert other.status_code == 200 and len(routed) == 3
    if "content" in change:  # the same query, in other bytes: the same answer, by the route
        assert other.content == kept.content
    else:
        assert other.content != kept.content


def test_another_key_of_the_same_account_is_the_routes_first(api, routed):
    client, keys, _ = api
    for _ in range(3):
        assert _post(client, keys["alice"], json=QUERY).status_code == 200
    assert _post(client, keys["bob"], json=QUERY).status_code == 200
    assert len(routed) == 3  # bob's first ask is the route's, even with alice's kept


def test_an_error_before_the_commit_leaves_it_to_the_route(api, routed, monkeypatch):
    client, keys, engine = api
    for _ in range(3):
        kept = _post(client, keys["alice"], json=QUERY)
    assert len(routed) == 2

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(hits.hits_repo, "audit_hit", broken)
    again = _post(client, keys["alice"], json=QUERY)
    assert again.status_code == 200 and again.content == kept.content
    assert len(routed) == 3 and len(_hit_entries(engine, "alice")) == 3  # each once


def test_the_one_statement_writes_the_columns_of_every_entry():
    sql = str(hits.hits_repo._HIT)
    insert = sql.split("INSERT INTO audit_log (", 1)[1].split(")", 1)[0]
    values = sql.split("SELECT :at", 1)[1].split("FROM", 1)[0]
    named = {c.strip() for c in insert.split(",")}
    bound = {"at", *(v.strip(" \n:") for v in values.split(",")[1:])}
    everything = audit._INSERT_SQL.split("VALUES")[0].split("(", 1)[1].rstrip(" )\n")
    assert named == bound == {c.strip() for c in everything.split(",")}


def test_on_postgresql_a_kept_hit_is_the_drivers_one_statement(api, routed):
    client, keys, engine = api
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite: the read, the entry and the commit, through SQLAlchemy")
    sessions = client.app.state.sessions
    served, key = sessions.kw["bind"], sessions.kw["info"][KEY_INFO]
    assert _post(client, keys["alice"], json=QUERY).json()["cached"] is False
    audit_seal.seal_pending(served, key)  # the log now names its key
    assert _post(client, keys["alice"], json=QUERY).json()["cached"] is True  # kept
    assert audit.checked(served, key)  # by the route's entry: the one statement may write
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(served, "before_cursor_execute", listener)
    try:
        repeat = _post(client, keys["alice"], json=QUERY)
    finally:
        event.remove(served, "before_cursor_execute", listener)
    assert repeat.status_code == 200 and repeat.json()["budget_remaining"] == pytest.approx(0.2)
    assert len(routed) == 2 and statements == []  # not the route's, not through SQLAlchemy
    assert len(_hit_entries(engine, "alice")) == 2
    assert audit_seal.seal_pending(served, key) == 2
    verified = client.get("/v1/admin/audit/verify", headers=auth(keys["admin"])).json()
    assert verified["ok"] is True, verified
