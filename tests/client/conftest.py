"""A real ``amaan serve`` (uvicorn) over a loaded SQLite warehouse, for the Python client and
the example script: a researcher with ε 1 to spend, one with ε 0.15, a partner and staff."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from etl.load import load_file
from etl.synth import SynthOptions, write_export
from schema.db import make_engine
from schema.migrate import upgrade
from schema.models import Dataset
from schema.repositories import accounts
from tests.api.servers import running_server
from tests.etl.helpers import options

DATASET = "helpline-cases"
ACCOUNTS = (  # name, role, budget in micro-ε
    ("researcher", "researcher", 1_000_000),
    ("thrifty", "researcher", 150_000),
    ("partner", "partner", None),
    ("admin", "admin", None),
)


@dataclass(frozen=True)
class Served:
    url: str
    keys: dict[str, str]
    env: dict[str, str]


def _world(url: str, folder: Path) -> dict[str, str]:
    upgrade(url)
    engine = make_engine(url)
    export = folder / "export.csv"
    write_export(export, SynthOptions(years=(2024, 2024), seed=9))
    load_file(export, engine, options())
    keys = {}
    with Session(engine) as s, s.begin():
        dataset = s.scalars(select(Dataset)).one()
        for name, role, budget in ACCOUNTS:
            account = accounts.create_account(s, name=name, role=role, organisation="NGO")
            accounts.grant(s, account.id, dataset.id)
            if budget:
                accounts.set_account_budget(s, account.id, dataset.id, budget)
            keys[name] = accounts.issue_key(s, account.id)[1]
    engine.dispose()
    return keys


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("client")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMAAN_")}
    env["AMAAN_DATABASE_URL"] = f"sqlite:///{folder / 'amaan.db'}"
    env["AMAAN_RATE_LIMIT_RESEARCHER"] = "100000/minute"  # the rate-limit test sets its own
    keys = _world(env["AMAAN_DATABASE_URL"], folder)
    with running_server(env, workers=1) as url:
        yield Served(url, keys, env)
