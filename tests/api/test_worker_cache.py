"""Per-worker caches (keys, grants, datasets, versions, releases: ``schema.generation``) over
a real server with two workers: every change made through the real admin path (the staff
REST routes, the ETL loader) is seen on the very next requests, by both workers."""

import asyncio
import os

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from etl.load import load_file
from schema.access import ApiKey
from schema.db import make_engine
from schema.repositories import accounts
from tests.api.conftest import UNLIMITED, auth
from tests.api.servers import running_server
from tests.etl.helpers import case, options, write_export

pytestmark = pytest.mark.slow  # a real server with two workers

QUERY = {"dataset": "helpline-cases", "group_by": ["gender"], "epsilon": 0.05}
N = 24  # requests after each change, on connections of their own, so both workers answer


def _env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMAAN_")}
    env["AMAAN_DATABASE_URL"] = url
    env["AMAAN_ENVIRONMENT"] = "test"
    roles = ("RESEARCHER", "PARTNER", "ADMIN", "ANONYMOUS")
    env.update({f"AMAAN_RATE_LIMIT_{role}": UNLIMITED for role in roles})
    return env


def _many(base: str, key: str, method: str = "POST", path: str = "/v1/queries") -> list:
    """N concurrent requests, each on a new connection: (status, JSON body) of each."""

    async def one() -> tuple[int, dict]:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            if method == "POST":
                r = await client.post(path, json=QUERY, headers=auth(key))
            else:
                r = await client.get(path, headers=auth(key))
            return r.status_code, r.json()

    async def run() -> list:
        return await asyncio.gather(*(one() for _ in range(N)))

    return asyncio.run(run())


def _graphql(base: str, key: str) -> list[int]:
    query = {"query": "{ me { name } }"}
    return [
        httpx.post(f"{base}/graphql", json=query, headers=auth(key), timeout=60).status_code
        for _ in range(N // 2)
    ]


def _statuses(results: list) -> set[int]:
    return {status for status, _ in results}


def test_changes_reach_both_workers_at_once(world_url, world_keys, tmp_path):
    admin = httpx.Client(base_url="", headers=auth(world_keys["admin"]), timeout=60)
    with running_server(_env(world_url), workers=2) as base:
        admin.base_url = httpx.URL(base)
        ids = {a["name"]: a["account_id"] for a in admin.get("/v1/admin/accounts").json()["items"]}
        issued = admin.post(f"/v1/admin/accounts/{ids['bob']}/keys", json={"label": "t"}).json()
        key, key_id = issued["key"], issued["key_id"]

        # Warm: every worker caches the key, the dataset, its grant and version, the release.
        assert _statuses(_many(base, key)) == {200}
        assert _statuses(_many(base, key, "GET", "/v1/me")) == {200}
        # A grant removed: refused at once, as a dataset the account cannot see.
        assert (
            admin.delete(f"/v1/admin/accounts/{ids['bob']}/grants/helpline-cases").status_code
            == 204
        )
        refused = _many(base, key)
        assert _statuses(refused) == {404}
        assert {body["error"]["code"] for _, body in refused} == {"not_found"}
        assert (
            admin.put(f"/v1/admin/accounts/{ids['bob']}/grants/helpline-cases").status_code == 204
        )
        assert _statuses(_many(base, key)) == {200}

        # A new version loaded (the ETL loader): the newest is served at once.
        assert {body["dataset_version"] for _, body in _many(base, key)} == {1}
        engine = make_engine(world_url)
        export = write_export(tmp_path / "v2.csv", [case(received_on="2024-03-01")])
        assert load_file(export, engine, options()).version == 2
        engine.dispose()
        assert {body["dataset_version"] for _, body in _many(base, key)} == {2}

        # An account suspended, then reactivated.
        patch = f"/v1/admin/accounts/{ids['bob']}"
        assert admin.patch(patch, json={"active": False}).status_code == 200
        assert _statuses(_many(base, key)) == {401}
        assert _statuses(_many(base, key, "GET", "/v1/me")) == {401}
        assert set(_graphql(base, key)) == {401}
        assert admin.patch(patch, json={"active": True}).status_code == 200
        assert _statuses(_many(base, key, "GET", "/v1/me")) == {200}

        # A key revoked: refused at once on every surface.
        assert admin.post(f"/v1/admin/keys/{key_id}/revoke").status_code == 200
        assert _statuses(_many(base, key)) == {401}
        assert _statuses(_many(base, key, "GET", "/v1/me")) == {401}
        assert set(_graphql(base, key)) == {401}
        assert _statuses(_many(base, world_keys["bob"], "GET", "/v1/me")) == {200}
    admin.close()


def test_an_orm_write_changes_the_token(world_url):
    """Every ORM flush that adds, changes or deletes what the caches hold sets a new token."""
    engine = make_engine(world_url)
    with engine.begin() as conn:
        first = conn.execute(text("SELECT token FROM cache_generation WHERE id = 1")).scalar()
    with Session(engine) as s, s.begin():
        accounts.create_account(s, name="new", role="researcher")
    with engine.begin() as conn:
        second = conn.execute(text("SELECT token FROM cache_generation WHERE id = 1")).scalar()
    assert first is not None and second is not None and first != second
    engine.dispose()


def test_without_the_row_nothing_is_cached(api):
    """A truncated table has no row: every request reads the key again, so a key revoked
    behind the ORM's back is refused at once."""
    client, keys, engine = api
    for _ in range(3):
        assert client.get("/v1/me", headers=auth(keys["bob"])).status_code == 200
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM cache_generation"))
    assert client.get("/v1/me", headers=auth(keys["bob"])).status_code == 200
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP WHERE key_hash = :h"),
            {"h": accounts.hash_key(keys["bob"])},
        )
    for _ in range(3):
        assert client.get("/v1/me", headers=auth(keys["bob"])).status_code == 401


def test_metrics_refuse_a_revoked_staff_key_at_once(api):
    """/metrics reads no data of its own through the request's session, yet its identity is
    the one the session's transaction verified, not the worker's cached one."""
    client, keys, engine = api
    admin = auth(keys["admin"])
    for _ in range(3):  # the key is cached by now
        shown = client.get("/metrics", headers=admin)
        assert shown.status_code == 200 and "amaan_request_duration_seconds" in shown.text
    with Session(engine) as s, s.begin():
        key = s.scalars(select(ApiKey).where(ApiKey.key_hash == accounts.hash_key(keys["admin"])))
        assert accounts.revoke_key(s, key.one().id) is not None
    after = client.get("/metrics", headers=admin)
    assert "amaan_request_duration_seconds" not in after.text, after.status_code


def test_a_long_writer_does_not_hold_back_a_revocation(world_url, world_keys):
    """The token is set as a transaction commits, so a long one that wrote early (an ETL load
    writes its version first) does not hold the one row while a key is revoked."""
    if world_url.startswith("sqlite"):
        pytest.skip("on SQLite every writer holds the database's one writer lock")
    engine = make_engine(world_url)
    token = text("SELECT token FROM cache_generation WHERE id = 1")
    with Session(engine) as long, long.begin():
        accounts.create_account(long, name="loader", role="researcher")
        long.flush()  # written, not committed
        with Session(engine) as s, s.begin():
            s.execute(text("SET LOCAL lock_timeout = '2s'"))
            digest = accounts.hash_key(world_keys["bob"])
            key = s.scalars(select(ApiKey).where(ApiKey.key_hash == digest)).one()
            assert accounts.revoke_key(s, key.id) is not None
        with engine.connect() as c:
            revoked = c.execute(token).scalar()
    with engine.connect() as c:
        assert c.execute(token).scalar() not in (None, revoked)  # the long one set its own
    engine.dispose()
