"""Budgets under real concurrency: uvicorn with several workers on PostgreSQL (and on the
embedded SQLite), and a server that stops on SIGTERM without losing or half-writing anything."""

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from etl.load import load_file
from etl.synth import SynthOptions, write_export
from schema.access import AccountBudget, LedgerEntry, Release
from schema.db import make_engine
from schema.migrate import upgrade
from schema.models import DIMENSIONS, Dataset
from schema.repositories import accounts, audit, audit_seal
from schema.repositories.audit_chain import GENESIS
from schema.settings import get_settings
from tests.api.conftest import UNLIMITED
from tests.api.servers import running_server, server_process
from tests.etl.helpers import options

pytestmark = pytest.mark.slow  # real servers with several workers

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
    env = _env(url)
    with running_server(env, workers=3) as base:
        yield base, engine, env
    engine.dispose()


def _env(url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMAAN_")}
    env["AMAAN_DATABASE_URL"] = url
    env.update({f"AMAAN_RATE_LIMIT_{role}": UNLIMITED for role in ("RESEARCHER", "ADMIN")})
    return env


def _reset(engine, cap_micro):
    """No spending, and an audit log that starts again (its charges would not match)."""
    with engine.begin() as conn:
        # The head first, as the servers' sealers take it: waiting for them, never crossing.
        conn.execute(text("SELECT id FROM audit_head FOR UPDATE"))
        conn.execute(text("DELETE FROM ledger"))
        conn.execute(text("DELETE FROM releases"))
        conn.execute(text("DELETE FROM account_budgets"))
        conn.execute(text("DELETE FROM audit_log"))
        conn.execute(
            text("UPDATE audit_head SET entries = 0, last_hash = :g, keyed = true"), {"g": GENESIS}
        )
        conn.execute(text("UPDATE datasets SET spent_micro = 0, cap_micro = :c"), {"c": cap_micro})
        # Releases deleted behind the ORM: the workers' caches must drop theirs.
        conn.execute(text("UPDATE cache_generation SET token = token + 1"))


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
    base, engine, _ = server
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
    base, engine, _ = server
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


def audit_key():
    return get_settings().audit_secret()  # the servers' (no AMAAN_AUDIT_KEY: the demo key)


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


async def _fire_graphql(base, requests, return_exceptions=False):
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
            ),
            return_exceptions=return_exceptions,
        )


@pytest.mark.postgres
def test_200_concurrent_graphql_queries_against_one_budget(server):
    """Resolvers wait on the database in the thread pool, never on the event loop: with
    sync resolvers this hung every worker (a request holding the audit chain's lock waited for
    the loop, which waited for that lock)."""
    base, engine, _ = server
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


def _books_agree(engine, budget_micro):
    """Budgets, ledger and audit chain tell one story (sealing what is left first)."""
    audit_seal.seal_pending(engine, audit_key())
    with Session(engine) as s:
        ledger = s.scalar(select(func.coalesce(func.sum(LedgerEntry.epsilon_micro), 0)))
        spent = s.scalar(select(func.sum(AccountBudget.spent_micro)))
        assert ledger == spent <= budget_micro
        assert audit.verify(s) == audit.Verification(True, audit.checkpoint(s)["sequence"])
    return ledger


@pytest.mark.postgres
def test_sigterm_stops_three_workers_and_loses_nothing(server):
    """SIGTERM in the middle of 200 GraphQL countCases: the workers finish or cancel what is
    in flight (their transactions roll back) and exit; nothing is half-written. How long they
    may take is the server's ``shutdown_timeout``; the wait here is only a hang guard."""
    _, engine, env = server
    _reset(engine, 10_000_000)
    (key,) = _accounts(engine, 1, 1_000_000)
    with server_process(env, workers=3) as (base, proc):

        async def burst_then_sigterm():
            requests = [(key, q) for q in distinct_queries(200)]
            fired = asyncio.ensure_future(_fire_graphql(base, requests, return_exceptions=True))
            await asyncio.sleep(0.5)  # requests in flight
            proc.send_signal(signal.SIGTERM)
            await asyncio.to_thread(proc.wait, 120)  # a hang guard: TimeoutExpired fails
            return await asyncio.wait_for(fired, 120)

        answers = asyncio.run(burst_then_sigterm())
    assert proc.returncode is not None
    delivered = [
        a.json()["data"]["countCases"]["releaseId"]
        for a in answers
        if isinstance(a, httpx.Response) and a.status_code == 200 and a.json().get("data")
    ]
    charged = _books_agree(engine, 1_000_000)
    assert len(delivered) * 100_000 <= charged  # every answer delivered was charged
    with Session(engine) as s:
        stored = set(s.scalars(select(Release.public_id)))
    assert set(delivered) <= stored


def test_50_concurrent_queries_on_sqlite_get_answers_or_budget_refusals(tmp_path):
    """The embedded default: 12 concurrent queries gave 9 × 500 "database is locked"."""
    url = f"sqlite:///{tmp_path / 'w.db'}"
    upgrade(url)
    engine = make_engine(url)
    path = tmp_path / "export.csv"
    write_export(path, SynthOptions(years=(2024, 2024), seed=21))
    load_file(path, engine, options())
    (key,) = _accounts(engine, 1, 1_000_000)
    with running_server(_env(url), workers=2) as base:
        answers = asyncio.run(_fire(base, [(key, q) for q in distinct_queries(50)]))
    codes = [r.status_code for r in answers]
    assert sorted(set(codes)) == [200, 403] and codes.count(200) == 10, [
        r.text[:120] for r in answers if r.status_code not in (200, 403)
    ]
    assert _books_agree(engine, 1_000_000) == 1_000_000
    engine.dispose()
