"""A running app over a loaded warehouse, with keys of two researchers (and a revoked and an
expired one), a staff account, two partners without a query budget and one with a budget."""

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.app import create_app
from etl.load import load_file
from etl.synth import SynthOptions, write_export
from schema.db import make_engine
from schema.models import Dataset, utcnow
from schema.repositories import accounts
from schema.settings import Settings
from tests.etl.helpers import options

UNLIMITED = "100000/minute"  # the rate-limit tests set their own limits


def auth(key):
    return {"Authorization": f"Bearer {key}"}


def build_world(db_url, tmp_path):
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


def settings_for(db_url, **overrides):
    unlimited = {f"rate_limit_{role}": UNLIMITED for role in ("researcher", "partner", "admin")}
    return Settings(database_url=db_url, **({"environment": "test"} | unlimited | overrides))


@pytest.fixture
def api(db_url, tmp_path):
    keys, engine = build_world(db_url, tmp_path)
    app = create_app(settings_for(db_url))
    with TestClient(app) as client:
        yield client, keys, engine
    engine.dispose()
