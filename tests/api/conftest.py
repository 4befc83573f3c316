"""A running app over a loaded warehouse, with keys of two researchers (and a revoked and an
expired one), a staff account, two partners without a query budget and one with a budget.

The loaded warehouse is built once per test session and backend, then copied for each test: a
file copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL. Every test gets its own
copy, so tests may write to it freely.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from api.app import create_app
from etl.load import load_file
from etl.synth import SynthOptions, write_export
from schema.db import make_engine
from schema.migrate import upgrade
from schema.models import Dataset, utcnow
from schema.repositories import accounts
from schema.settings import Settings
from tests.conftest import PgDatabases
from tests.etl.helpers import options

UNLIMITED = "100000/minute"  # the rate-limit tests set their own limits


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def build_world(db_url: str, tmp_path: Path) -> tuple[dict[str, str], Engine]:
    """Load a warehouse and make the accounts; returns their keys and the engine."""
    engine = make_engine(db_url)
    path = tmp_path / "export.csv"
    write_export(path, SynthOptions(years=(2024, 2024), seed=9))
    load_file(path, engine, options())
    keys = {}
    with Session(engine) as s, s.begin():
        dataset = s.scalars(select(Dataset)).one()
        for name, budget in (("alice", 250_000), ("bob", 1_000_000)):
            account = accounts.create_account(s, name=name, role="researcher")
            accounts.grant(s, account.id, dataset.id)
            accounts.set_account_budget(s, account.id, dataset.id, budget)
            keys[name] = accounts.issue_key(s, account.id)[1]
        revoked, keys["revoked"] = accounts.issue_key(s, account.id)
        revoked.revoked_at = utcnow()
        _, keys["expired"] = accounts.issue_key(
            s, account.id, expires_at=utcnow() - timedelta(days=1)
        )
        for name, role, budget in (
            ("admin", "admin", None),
            ("partner", "partner", None),
            ("partner2", "partner", None),
            ("partner_budget", "partner", 1_000_000),
        ):
            account = accounts.create_account(s, name=name, role=role, organisation="NGO")
            accounts.grant(s, account.id, dataset.id)
            if budget:
                accounts.set_account_budget(s, account.id, dataset.id, budget)
            keys[name] = accounts.issue_key(s, account.id)[1]
    return keys, engine


@dataclass(frozen=True)
class World:
    """A built warehouse to copy: a SQLite file or a PostgreSQL template database."""

    keys: dict[str, str]
    sqlite_path: Path | None = None
    pg_template: str | None = None


def _built(url: str, folder: Path) -> dict[str, str]:
    keys, engine = build_world(url, folder)
    engine.dispose()  # a template database must have no connection left
    return keys


@pytest.fixture(scope="session")
def sqlite_world(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> World:
    folder = tmp_path_factory.mktemp("world")
    path = folder / "world.db"
    shutil.copy(sqlite_template, path)
    return World(keys=_built(f"sqlite:///{path}", folder), sqlite_path=path)


@pytest.fixture(scope="session")
def pg_world(pg_databases: PgDatabases, tmp_path_factory: pytest.TempPathFactory) -> World:
    url = pg_databases.create()
    upgrade(url)
    keys = _built(url, tmp_path_factory.mktemp("pg_world"))
    return World(keys=keys, pg_template=make_url(url).database)


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _copy_of_world(request: pytest.FixtureRequest, folder: Path) -> Iterator[str]:
    if request.param == "sqlite":
        world: World = request.getfixturevalue("sqlite_world")
        assert world.sqlite_path is not None
        path = folder / "warehouse.db"
        shutil.copy(world.sqlite_path, path)
        yield f"sqlite:///{path}"
        return
    world = request.getfixturevalue("pg_world")
    dbs: PgDatabases = request.getfixturevalue("pg_databases")
    url = dbs.create(template=world.pg_template)
    yield url
    dbs.drop(url)


@pytest.fixture(params=BACKENDS)
def world_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh copy of the loaded warehouse, on each backend."""
    yield from _copy_of_world(request, tmp_path)


@pytest.fixture
def world_keys(request: pytest.FixtureRequest, world_url: str) -> dict[str, str]:
    name = "sqlite_world" if world_url.startswith("sqlite") else "pg_world"
    world: World = request.getfixturevalue(name)
    return dict(world.keys)


def settings_for(db_url: str, **overrides: Any) -> Settings:
    roles = ("researcher", "partner", "admin", "anonymous")
    unlimited = {f"rate_limit_{role}": UNLIMITED for role in roles}
    return Settings(database_url=db_url, **({"environment": "test"} | unlimited | overrides))


@pytest.fixture
def api(world_url: str, world_keys: dict[str, str]) -> Iterator[tuple[TestClient, dict, Engine]]:
    engine = make_engine(world_url)
    app = create_app(settings_for(world_url))
    with TestClient(app) as client:
        yield client, world_keys, engine
    engine.dispose()


@pytest.fixture(scope="module", params=BACKENDS)
def shared_api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, dict, Engine]]:
    """One copy and one app for a whole module, for tests that only read or whose writes do
    not meet (the role matrix): as ``api``, without an app start per test."""
    for url in _copy_of_world(request, tmp_path_factory.mktemp("shared")):
        name = "sqlite_world" if url.startswith("sqlite") else "pg_world"
        keys = dict(request.getfixturevalue(name).keys)
        engine = make_engine(url)
        with TestClient(create_app(settings_for(url))) as client:
            yield client, keys, engine
        engine.dispose()
