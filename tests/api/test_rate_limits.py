"""Rate limits: keyed by API key, set by role, shared across workers through Redis."""

import asyncio
import os
import uuid

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.app import create_app
from etl.load import load_file
from etl.synth import SynthOptions, write_export
from schema.access import LedgerEntry, Release
from schema.db import make_engine
from schema.migrate import upgrade
from schema.models import Dataset
from schema.repositories import accounts
from schema.settings import Settings
from tests.api.conftest import auth
from tests.api.servers import running_server
from tests.etl.helpers import options

QUERY = {"dataset": "helpline-cases", "group_by": ["gender"], "epsilon": 0.1}
REDIS_ENV = "AMAAN_TEST_REDIS_URL"


@pytest.fixture
def limited(api):
    """The same warehouse and keys, served with small limits."""
    _, keys, engine = api
    url = engine.url.render_as_string(hide_password=False)
    settings = Settings(
        database_url=url,
        environment="test",
        rate_limit_researcher="3/minute",
        rate_limit_partner="5/minute",
        rate_limit_anonymous="2/minute",
    )
    with TestClient(create_app(settings)) as client:
        yield client, keys, engine


def test_a_key_gets_its_limit_then_429_with_retry_after(limited):
    client, keys, engine = limited
    codes = [
        client.post("/v1/queries", json=QUERY, headers=auth(keys["alice"])).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 200]
    late = client.post("/v1/queries", json=QUERY | {"epsilon": 0.2}, headers=auth(keys["alice"]))
    assert late.status_code == 429 and late.json()["error"]["code"] == "rate_limited"
    assert 0 < int(late.headers["retry-after"]) <= 60
    with Session(engine) as s:  # the limited request spent nothing and stored nothing
        assert s.scalar(select(func.count()).select_from(Release)) == 1
        assert s.scalar(select(func.sum(LedgerEntry.epsilon_micro))) == 100_000
    # another key, and another route group of the same key, have their own counts
    assert client.post("/v1/queries", json=QUERY, headers=auth(keys["bob"])).status_code == 200
    assert client.get("/v1/me", headers=auth(keys["alice"])).status_code == 200


def test_forwarded_for_does_not_reset_and_invalid_requests_count(limited):
    client, keys, _ = limited
    bad = {"dataset": "helpline-cases", "group_by": "not a list"}
    assert client.post("/v1/queries", json=bad, headers=auth(keys["alice"])).status_code == 422
    for i in range(2):
        spoofed = auth(keys["alice"]) | {"X-Forwarded-For": f"10.0.0.{i}"}
        assert client.post("/v1/queries", json=QUERY, headers=spoofed).status_code == 200
    spoofed = auth(keys["alice"]) | {"X-Forwarded-For": "10.9.9.9"}
    assert client.post("/v1/queries", json=QUERY, headers=spoofed).status_code == 429


def test_requests_without_a_valid_key_are_limited_by_address(limited):
    client, keys, _ = limited
    codes = [client.get("/v1/me", headers=auth(f"wrong-{i}")).status_code for i in range(3)]
    assert codes == [401, 401, 429]
    assert client.get("/v1/datasets").status_code == 429
    assert client.get("/healthz").status_code == 200
    assert client.get("/v1/me", headers=auth(keys["alice"])).status_code == 200


def test_limits_follow_the_role(limited):
    client, keys, _ = limited
    codes = [
        client.get("/v1/releases", headers=auth(keys["partner"])).status_code for _ in range(6)
    ]
    assert codes == [200] * 5 + [429]


def test_graphql_is_limited_too(limited):
    client, keys, _ = limited
    body = {"query": "{ me { name } }"}
    codes = [
        client.post("/graphql", json=body, headers=auth(keys["alice"])).status_code
        for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]


@pytest.mark.slow
@pytest.mark.postgres
def test_limits_hold_across_workers_with_redis(pg_databases, tmp_path):
    redis_url = os.environ.get(REDIS_ENV)
    if not redis_url:
        if os.environ.get("AMAAN_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{REDIS_ENV} is not set")
        pytest.skip(f"the cross-worker test needs {REDIS_ENV}")
    url = pg_databases.create()
    upgrade(url)
    engine = make_engine(url)
    path = tmp_path / "export.csv"
    write_export(path, SynthOptions(years=(2024, 2024), seed=5))
    load_file(path, engine, options())
    with Session(engine) as s, s.begin():
        dataset = s.scalars(select(Dataset)).one()
        account = accounts.create_account(s, name="r", role="researcher")
        accounts.grant(s, account.id, dataset.id)
        accounts.set_account_budget(s, account.id, dataset.id, 10_000_000)
        key = accounts.issue_key(s, account.id)[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMAAN_")}
    env |= {
        "AMAAN_DATABASE_URL": url,
        "AMAAN_RATE_LIMIT_STORAGE": redis_url,
        "AMAAN_RATE_LIMIT_PREFIX": f"test-{uuid.uuid4().hex}",
        "AMAAN_RATE_LIMIT_RESEARCHER": "12/minute",
    }

    async def fire(base):
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            return await asyncio.gather(
                *(
                    client.post(
                        "/v1/queries",
                        json=QUERY | {"epsilon": 0.01 * (i + 1)},
                        headers={"Authorization": f"Bearer {key}"},
                    )
                    for i in range(30)
                )
            )

    with running_server(env, workers=3) as base:
        answers = asyncio.run(fire(base))
    engine.dispose()
    codes = [r.status_code for r in answers]
    assert codes.count(200) == 12 and codes.count(429) == 18, [r.text[:80] for r in answers]
    assert all(int(r.headers["retry-after"]) > 0 for r in answers if r.status_code == 429)
