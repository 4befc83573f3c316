"""Shared fixtures: real SQLite and real PostgreSQL warehouses, built by the migrations.

PostgreSQL tests run when AMAAN_TEST_POSTGRES_URL names a server (any database on it; each
test session creates and drops its own databases). With AMAAN_REQUIRE_POSTGRES=1 (CI), a
missing server fails the run instead of skipping.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from schema import access  # noqa: F401  (registers the access tables)
from schema.db import make_engine
from schema.migrate import upgrade
from schema.models import Base

PG_ENV = "AMAAN_TEST_POSTGRES_URL"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules that hold a slow test run first, each kept whole (its fixtures built once).

    With ``--dist worksteal`` the two workers start on them and take the short tests from
    each other's queues at the end, so that a minute-long audit is never what one worker
    still runs while the other has nothing left.
    """
    slow = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in slow)


def _pg_server_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("AMAAN_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{PG_ENV} is not set but AMAAN_REQUIRE_POSTGRES=1")
        return None
    return url


class PgDatabases:
    """Creates throwaway databases on the test server and drops them at the end."""

    def __init__(self, server_url: str) -> None:
        self.server_url = make_url(server_url)
        self.admin = create_engine(self.server_url, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def create(self, template: str | None = None) -> str:
        """A new database, empty or a copy of ``template`` (which must have no connection)."""
        name = f"amaan_test_{uuid.uuid4().hex[:12]}"
        copy = f' TEMPLATE "{template}"' if template else ""
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
        self.created.append(name)
        return self.server_url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.created.remove(str(name))

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PgDatabases]:
    url = _pg_server_url()
    if url is None:
        pytest.skip(f"PostgreSQL tests need {PG_ENV}")
    dbs = PgDatabases(url)
    try:
        with dbs.admin.connect():
            pass
    except Exception as exc:
        if os.environ.get("AMAAN_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL at {PG_ENV} is unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def pg_migrated_url(pg_databases: PgDatabases) -> str:
    url = pg_databases.create()
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "warehouse.db"
    upgrade(f"sqlite:///{path}")
    return path


def _truncate(engine: Engine) -> None:
    """Empty every table, then restore what the migrations seed (the audit chain's head)."""
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        conn.execute(
            text("INSERT INTO audit_head (id, last_hash, entries) VALUES (1, :genesis, 0)"),
            {"genesis": "0" * 64},
        )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty warehouse on each backend."""
    if "api" in request.fixturenames:  # the app's warehouse is another database
        pytest.fail("a test of the app's warehouse asks for world_url, not db_url")
    if request.param == "sqlite":
        path = tmp_path / "warehouse.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("pg_migrated_url")
    engine = make_engine(url)
    _truncate(engine)
    yield url
    _truncate(engine)
    engine.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()
