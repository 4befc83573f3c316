"""``GET /v1/admin/audit/verify`` recomputes every account's and dataset's spending from the
chained charges: zeroing a budget, deleting ledger rows or zeroing a dataset's spending is
found and named, as the release service charges queries and publications."""

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from schema.access import Account
from schema.repositories import audit
from tests.api.conftest import auth

QUERY = {"dataset": "helpline-cases", "group_by": ["gender"], "epsilon": 0.1}


def _verify(client, keys):
    r = client.get("/v1/admin/audit/verify", headers=auth(keys["admin"]))
    assert r.status_code == 200
    return r.json()


@pytest.fixture
def spent(api):
    """Two released queries, a repeat (cached), an estimate and a published extract."""
    client, keys, engine = api
    alice = auth(keys["alice"])
    assert client.post("/v1/queries", json=QUERY, headers=alice).status_code == 200
    assert client.post("/v1/queries", json=QUERY | {"epsilon": 0.05}, headers=alice).json()
    assert client.post("/v1/queries", json=QUERY, headers=alice).json()["cached"]
    assert client.post("/v1/queries/estimate", json=QUERY | {"epsilon": 0.3}, headers=alice)
    extract = {
        "title": "By gender",
        "query": QUERY | {"epsilon": 0.2},
        "audience": ["all-partners"],
    }
    assert client.post("/v1/admin/releases", json=extract, headers=auth(keys["admin"])).is_success
    with Session(engine) as s:
        alice_id = s.scalar(select(Account.id).where(Account.name == "alice"))
    return client, keys, engine, alice_id


def test_the_chained_charges_agree_with_every_budget(spent):
    client, keys, _, _ = spent
    result = _verify(client, keys)
    assert result["ok"] is True and result["entries"] >= 6 and result["pending"] == 0


@pytest.mark.parametrize(
    ("tamper", "named", "words"),
    [
        (
            "UPDATE account_budgets SET spent_micro = 0 WHERE account_id = :alice",
            "account",
            "budget on dataset helpline-cases says ε 0 spent; the audit log's charges add up "
            "to ε 0.15",
        ),
        (
            "DELETE FROM ledger WHERE id = (SELECT MAX(id) FROM ledger WHERE account_id = :alice)",
            "account",
            "holds 1 charges of ε 0.1 in all; the audit log holds 2 of ε 0.15",
        ),
        (
            "UPDATE datasets SET spent_micro = 150000",
            "dataset",
            "dataset helpline-cases says ε 0.15 spent; the audit log's charges add up to ε 0.35",
        ),
    ],
)
def test_a_budget_or_ledger_that_disagrees_is_found_and_named(spent, tamper, named, words):
    client, keys, engine, alice = spent
    with engine.begin() as conn:
        conn.execute(text(tamper), {"alice": alice})
    result = _verify(client, keys)
    assert result["ok"] is False and words in result["problem"], result
    assert result["dataset"] == "helpline-cases"
    assert result["account_id"] == (alice if named == "account" else None)
    with Session(engine) as s:  # the function says the same
        assert not audit.verify(s).ok
