"""Who may do what: the role matrix, keys that never leak, and production settings.

POLICY is the access policy of every route, and its documentation: the status each role gets
for a typical request. A revoked or an expired key always gets 401, like no key at all.
tests/api/staff_page/test_page_policy.py fails when a route of the app has no policy.
"""

import json
import logging
import sqlite3

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from api.app import create_app
from schema.access import ApiKey
from schema.models import Base
from schema.settings import Settings
from tests.api.conftest import auth

QUERY = {"dataset": "helpline-cases", "group_by": ["gender"], "epsilon": 0.1}
ROLES = ("anonymous", "researcher", "partner", "admin")

# method, path, body: status for anonymous, researcher, partner, admin
POLICY = [
    ("GET", "/v1/datasets", None, (401, 200, 200, 200)),
    ("GET", "/v1/dimensions", None, (401, 200, 200, 200)),
    ("GET", "/v1/me", None, (401, 200, 200, 200)),
    ("POST", "/v1/queries", QUERY, (401, 200, 403, 403)),  # partners and staff: no budget
    ("POST", "/v1/queries/estimate", QUERY, (401, 200, 200, 200)),
    ("GET", "/v1/releases", None, (401, 200, 200, 200)),
    ("GET", "/v1/releases/{published}", None, (401, 200, 200, 200)),
    ("GET", "/v1/releases/{query_release}", None, (401, 200, 404, 200)),
    ("GET", "/v1/releases/{published}/metadata", None, (401, 200, 200, 200)),
    ("GET", "/v1/releases/{query_release}/metadata", None, (401, 200, 404, 200)),
    ("POST", "/graphql", {"query": "{ me { name } }"}, (401, 200, 200, 200)),
    ("GET", "/graphql?query={me{name}}", None, (401, 200, 200, 200)),
    ("GET", "/v1/admin/accounts", None, (401, 403, 403, 200)),
    ("POST", "/v1/admin/accounts", {"name": "n", "role": "partner"}, (401, 403, 403, 201)),
    ("GET", "/v1/admin/accounts/{bob}", None, (401, 403, 403, 200)),
    ("PATCH", "/v1/admin/accounts/{bob}", {"organisation": "U"}, (401, 403, 403, 200)),
    ("POST", "/v1/admin/accounts/{bob}/keys", {}, (401, 403, 403, 201)),
    ("POST", "/v1/admin/keys/{spare_key}/revoke", None, (401, 403, 403, 200)),
    ("DELETE", "/v1/admin/accounts/{partner2}/grants/{dataset}", None, (401, 403, 403, 204)),
    ("PUT", "/v1/admin/accounts/{partner2}/grants/{dataset}", None, (401, 403, 403, 204)),
    ("GET", "/v1/admin/budgets", None, (401, 403, 403, 200)),
    (
        "PUT",
        "/v1/admin/accounts/{bob}/budget",
        {"dataset": "helpline-cases", "epsilon": 2, "reason": "r"},
        (401, 403, 403, 200),
    ),
    (
        "PUT",
        "/v1/admin/datasets/{dataset}/budget",
        {"cap": 10, "max_per_query": 0.5, "reason": "r"},
        (401, 403, 403, 200),
    ),
    (
        "POST",
        "/v1/admin/releases",
        {"title": "t", "query": QUERY, "audience": ["all-partners"]},
        (401, 403, 403, 201),
    ),
    ("GET", "/v1/admin/releases", None, (401, 403, 403, 200)),
    ("POST", "/v1/admin/releases/{publication}/republish", None, (401, 403, 403, 409)),
    (
        "POST",
        "/v1/admin/summaries",
        {"dataset": "helpline-cases", "template": "default", "epsilon": 0.5},
        (401, 403, 403, 201),
    ),
    ("GET", "/v1/admin/summaries?dataset=helpline-cases", None, (401, 403, 403, 200)),
    (
        "POST",
        "/v1/admin/summaries/{report}/publish",
        {"title": "t", "audience": ["{partner2}"]},  # not the partner who asks below
        (401, 403, 403, 201),
    ),
    ("GET", "/v1/reports", None, (401, 200, 200, 200)),
    ("GET", "/v1/reports/{report}", None, (401, 200, 404, 200)),
    ("GET", "/v1/admin/ledger", None, (401, 403, 403, 200)),
    ("GET", "/v1/admin/audit", None, (401, 403, 403, 200)),
    ("GET", "/v1/admin/audit/verify", None, (401, 403, 403, 200)),
    ("GET", "/metrics", None, (401, 403, 403, 200)),  # or from AMAAN_METRICS_NETWORKS
]


@pytest.fixture(scope="module")
def world(shared_api):
    client, keys, _ = shared_api
    ids = {
        name: client.get("/v1/me", headers=auth(keys[name])).json()["id"]
        for name in keys
        if name not in ("revoked", "expired")
    }
    released = client.post(
        "/v1/queries", json=QUERY | {"epsilon": 0.05}, headers=auth(keys["alice"])
    )
    body = {"title": "x", "query": QUERY | {"group_by": ["province"]}, "audience": [ids["partner"]]}
    pub = client.post("/v1/admin/releases", json=body, headers=auth(keys["admin"])).json()
    spare = client.post(
        f"/v1/admin/accounts/{ids['bob']}/keys", json={}, headers=auth(keys["admin"])
    )
    report = {"dataset": "helpline-cases", "template": "annual-report", "epsilon": 0.5}
    made = client.post(
        "/v1/admin/summaries", json=report | {"year": 2024}, headers=auth(keys["admin"])
    )
    values = {
        "report": made.json()["release_id"],
        "published": pub["release_id"],
        "query_release": released.json()["release_id"],
        "publication": pub["publication_id"],
        "bob": ids["bob"],
        "partner2": ids["partner2"],
        "spare_key": spare.json()["key_id"],
        "dataset": "helpline-cases",
    }
    return client, keys, values


def _url(path, values):
    for name, value in values.items():
        path = path.replace("{" + name + "}", str(value))
    return path


@pytest.mark.parametrize(("method", "path", "body", "expected"), POLICY)
def test_role_matrix(world, method, path, body, expected):
    client, keys, values = world
    url = _url(path, values)
    body = json.loads(_url(json.dumps(body), values)) if body else body
    who = {
        "anonymous": {},
        "researcher": auth(keys["alice"]),
        "partner": auth(keys["partner"]),
        "admin": auth(keys["admin"]),
    }
    got = {}
    for role in ROLES:
        got[role] = client.request(method, url, json=body, headers=who[role]).status_code
    for dead in ("revoked", "expired"):
        r = client.request(method, url, json=body, headers=auth(keys[dead]))
        got[dead] = r.status_code
    assert got == dict(zip(ROLES, expected, strict=True)) | {"revoked": 401, "expired": 401}


def test_researchers_never_reach_admin_routes_and_partners_never_each_others_extracts(world):
    client, keys, values = world
    for method, path, body, _ in POLICY:
        if path.startswith("/v1/admin"):
            url = _url(path, values)
            r = client.request(method, url, json=body, headers=auth(keys["alice"]))
            assert r.status_code == 403
    other = client.get(f"/v1/releases/{values['published']}", headers=auth(keys["partner2"]))
    assert other.status_code == 404


def _windows(key, size=8):
    return {key[i : i + size] for i in range(len(key) - size + 1)}


def test_no_piece_of_a_key_in_the_database_a_dump_or_the_logs(api, world_url, caplog):
    client, keys, engine = api
    caplog.set_level(logging.DEBUG)
    bob = client.get("/v1/me", headers=auth(keys["bob"])).json()["id"]
    issued = []
    for i in range(10):
        r = client.post(
            f"/v1/admin/accounts/{bob}/keys", json={"label": f"k{i}"}, headers=auth(keys["admin"])
        )
        issued.append(r.json()["key"])
    for raw in issued:
        assert client.post("/v1/queries", json=QUERY, headers=auth(raw)).status_code == 200
        assert client.get("/v1/me", headers=auth(raw + "x")).status_code == 401
        client.post("/v1/admin/keys/1/revoke", headers=auth(raw))  # 403: logged, not leaked
    dump = []
    with Session(engine) as s:
        for table in Base.metadata.sorted_tables:
            dump += [repr(tuple(row)) for row in s.execute(text(f"SELECT * FROM {table.name}"))]
        assert len(s.scalars(select(ApiKey)).all()) >= 10
    if world_url.startswith("sqlite"):
        with sqlite3.connect(world_url.removeprefix("sqlite:///")) as con:
            dump += list(con.iterdump())
    everything = "\n".join(dump) + "\n" + caplog.text
    assert len(dump) > 100 and caplog.text  # there was something to search
    leaked = [w for raw in [*issued, keys["admin"]] for w in _windows(raw) if w in everything]
    assert leaked == []


SECRET = "a-production-audit-key-for-tests"


def test_production_settings(db_url):
    prod = Settings(database_url=db_url, environment="production", audit_key=SECRET)
    with TestClient(create_app(prod)) as client:
        ide = client.get("/graphql", headers={"Accept": "text/html"})
        assert ide.status_code in (401, 404, 405) and "graphiql" not in ide.text.lower()
        assert client.get("/docs").status_code == 404
        assert client.get("/openapi.json").status_code == 404
        preflight = client.options(
            "/v1/datasets",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert "access-control-allow-origin" not in preflight.headers
    with pytest.raises(ValidationError, match="'\\*' is refused"):
        Settings(
            database_url=db_url, environment="production", cors_origins=["*"], audit_key=SECRET
        )
    documented = Settings(
        database_url=db_url,
        environment="production",
        audit_key=SECRET,
        api_docs=True,
        cors_origins=["https://ngo.example"],
    )
    with TestClient(create_app(documented)) as client:
        assert client.get("/openapi.json").status_code == 200
        preflight = client.options(
            "/v1/datasets",
            headers={"Origin": "https://ngo.example", "Access-Control-Request-Method": "GET"},
        )
        assert preflight.headers["access-control-allow-origin"] == "https://ngo.example"
    development = Settings(database_url=db_url)
    with TestClient(create_app(development)) as client:
        assert "graphiql" in client.get("/graphql", headers={"Accept": "text/html"}).text.lower()
    assert json.dumps(prod.cors_origins) == "[]"


def test_no_shared_cache_may_keep_an_answer_or_a_key(shared_api):
    client, keys, _ = shared_api
    bob = client.get("/v1/me", headers=auth(keys["bob"])).json()["id"]
    issued = client.post(f"/v1/admin/accounts/{bob}/keys", json={}, headers=auth(keys["admin"]))
    answered = client.post("/v1/queries", json=QUERY, headers=auth(keys["alice"]))
    graphql = client.post("/graphql", json={"query": "{ me { name } }"}, headers=auth(keys["bob"]))
    refused = client.get("/v1/me")
    for r in (issued, answered, graphql, refused):
        assert r.headers["cache-control"] == "no-store", r.request.url
