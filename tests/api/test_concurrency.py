"""Budgets under real concurrency: uvicorn with several workers on PostgreSQL."""

import asyncio
import os
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from etl.load import load_file
from etl.synth import SynthOptions, write_export
from schema.access import LedgerEntry
from schema.db import make_engine
from schema.migrate import upgrade
from schema.models import DIMENSIONS, Dataset
from schema.repositories import accounts, audit
from tests.api.conftest import UNLIMITED
from tests.api.servers import running_server
from tests.etl.helpers import options

AMAAN = str(Path(sys.executable).with_name("amaan"))
SINGLE = [d for d in DIMENSIONS if d not in ("month", "quarter", "year")]


def distinct_queries(n):
    """n different queries: one dimension, restricted to a month, a quarter or the year."""
    periods = [("month", f"2024-{m:02d}") for m in range(1, 13)]
    periods += [("quarter", f"2024-Q{q}") for q in range(1, 5)] + [("year", "2024")]
    queries = [
        {
            "dataset": "helpline-cases",
            "group_by": [dim],
            "epsilon": 0.1,
            "filters": [{"dimension": kind, "values": [value]}],
        }
        for kind, value in periods
        for dim in SINGLE
    ]
    assert len(queries) >= n
    return queries[:n]


@pytest.fixture(scope="module")
def server(pg_databases, tmp_path_factory):
    url = pg_databases.create()
    upgrade(url)
    engine = make_engine(url)
    path = tmp_path_factory.mktemp("export") / "export.csv"
    write_export(path, SynthOptions(years=(2024, 2024), seed=21))
    load_file(path, engine, options())
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMAAN_")}
    env["AMAAN_DATABASE_URL"] = url
    env.update({f"AMAAN_RATE_LIMIT_{role}": UNLIMITED for role in ("RESEARCHER", "ADMIN")})
    with running_server(env, workers=3) as base:
        yield base, engine
    engine.dispose()


def _reset(engine, cap_micro):
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM ledger"))
        conn.execute(text("DELETE FROM releases"))
        conn.execute(text("DELETE FROM account_budgets"))
        conn.execute(text("UPDATE datasets SET spent_micro = 0, cap_micro = :c"), {"c": cap_micro})


def _accounts(engine, n, budget_micro):
    keys = []
    with Session(engine) as s, s.begin():
        dataset = s.scalars(select(Dataset)).one()
        for i in range(n):
            a = accounts.create_account(s, name=f"researcher {i}", role="researcher")
            accounts.grant(s, a.id, dataset.id)
            accounts.set_account_budget(s, a.id, dataset.id, budget_micro)
            keys.append(accounts.issue_key(s, a.id)[1])
    return keys


async def _fire(base, requests):
    limits = httpx.Limits(max_connections=len(requests))
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        return await asyncio.gather(
            *(
                client.post("/v1/queries", json=body, headers={"Authorization": f"Bearer {key}"})
                for key, body in requests
            )
        )


@pytest.mark.postgres
def test_200_concurrent_queries_against_one_budget(server):
    base, engine = server
    _reset(engine, 10_000_000)
    (key,) = _accounts(engine, 1, 1_000_000)
    answers = asyncio.run(_fire(base, [(key, q) for q in distinct_queries(200)]))
    codes = [r.status_code for r in answers]
    assert codes.count(200) == 10 and codes.count(403) == 190, sorted(set(codes))
    assert {r.json()["error"]["code"] for r in answers if r.status_code == 403} == {
        "account_budget_exceeded"
    }
    with Session(engine) as s:
        assert s.scalar(select(func.sum(LedgerEntry.epsilon_micro))) == 1_000_000
        assert audit.verify(s).ok


@pytest.mark.postgres
def test_20_accounts_against_a_dataset_cap(server):
    base, engine = server
    _reset(engine, 2_000_000)
    keys = _accounts(engine, 20, 1_000_000)
    queries = distinct_queries(160)
    answers = asyncio.run(_fire(base, [(keys[i % 20], q) for i, q in enumerate(queries)]))
    codes = [r.status_code for r in answers]
    assert codes.count(200) == 20, sorted(set(codes))
    assert {r.json()["error"]["code"] for r in answers if r.status_code == 403} == {
        "dataset_cap_exceeded"
    }
    with Session(engine) as s:
        assert s.scalar(select(func.sum(LedgerEntry.epsilon_micro))) == 2_000_000
        assert s.scalar(select(Dataset.spent_micro)) == 2_000_000
        assert audit.verify(s).ok


GQL_COUNT = """mutation ($q: CountQueryInput!) {
  countCases(query: $q) { releaseId epsilonCharged }
}"""


def _as_graphql(body):
    return {
        "dataset": body["dataset"],
        "groupBy": [d.upper() for d in body["group_by"]],
        "epsilon": body["epsilon"],
        "filters": [
            {"dimension": f["dimension"].upper(), "values": f["values"]} for f in body["filters"]
        ],
    }


async def _fire_graphql(base, requests):
    limits = httpx.Limits(max_connections=len(requests))
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        return await asyncio.gather(
            *(
                client.post(
                    "/graphql",
                    json={"query": GQL_COUNT, "variables": {"q": _as_graphql(body)}},
                    headers={"Authorization": f"Bearer {key}"},
                )
                for key, body in requests
            )
        )


@pytest.mark.postgres
def test_200_concurrent_graphql_queries_against_one_budget(server):
    """Resolvers wait on the database in the thread pool, never on the event loop: with
    sync resolvers this hung every worker (a request holding the audit chain's lock waited for
    the loop, which waited for that lock)."""
    base, engine = server
    _reset(engine, 10_000_000)
    (key,) = _accounts(engine, 1, 1_000_000)
    answers = asyncio.run(
        asyncio.wait_for(_fire_graphql(base, [(key, q) for q in distinct_queries(200)]), 120)
    )
    assert {r.status_code for r in answers} == {200}
    bodies = [r.json() for r in answers]
    released = [b for b in bodies if b.get("data") and b["data"]["countCases"]]
    refused = [b["errors"][0]["extensions"]["code"] for b in bodies if b.get("errors")]
    assert len(released) == 10 and refused == ["account_budget_exceeded"] * 190
    with Session(engine) as s:
        assert s.scalar(select(func.sum(LedgerEntry.epsilon_micro))) == 1_000_000
        assert audit.verify(s).ok
