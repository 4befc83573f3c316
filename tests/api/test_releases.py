"""The release service against a real warehouse (SQLite and PostgreSQL)."""

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api import answers, releases
from api.errors import BudgetExhausted, InvalidQuery, NotFound, PrivacyRefused
from etl.load import load_file
from etl.synth import SynthOptions, write_export
from schema.access import LedgerEntry, Release
from schema.models import Dataset
from schema.repositories import accounts, audit
from schema.settings import Settings
from tests.etl.helpers import options

SETTINGS = Settings()


@pytest.fixture
def warehouse(engine, tmp_path):
    path = tmp_path / "export.csv"
    write_export(path, SynthOptions(years=(2024, 2024), seed=4))
    load_file(path, engine, options())
    return engine


def _account(engine, role="researcher", budget=1_000_000, grant=True):
    with Session(engine, expire_on_commit=False) as s, s.begin():
        account = accounts.create_account(s, name=f"{role} {budget}", role=role)
        dataset = s.scalars(select(Dataset)).one()
        if grant:
            accounts.grant(s, account.id, dataset.id)
            accounts.set_account_budget(s, account.id, dataset.id, budget)
    return account


def _count(engine, account, **query):
    base = {"dataset": "helpline-cases", "group_by": ["gender"], "epsilon": "0.1"}
    with Session(engine, expire_on_commit=False) as s, s.begin():
        return answers.answer(
            s, account, answers.Count(releases.CountQuery(**{**base, **query})), SETTINGS
        )


def test_release_then_cache_hit(warehouse):
    a = _account(warehouse)
    first = _count(warehouse, a, group_by=["gender", "age_band"])
    assert not first.cached and str(first.epsilon_charged) == "0.1"
    cells = [c for c in first.body["cells"] if not c["total"]]
    assert len(cells) == 4 * 6  # every public key, zeros included
    assert first.body["group_by"] == ["age_band", "gender"]  # canonical order
    assert cells[0]["key"][1] == {
        "dimension": "gender",
        "code": "F",
        "label": "Women",
        "label_ur": "خواتین",
    }
    women_adults = next(c for c in cells if [k["code"] for k in c["key"]] == ["18_30", "F"])
    assert women_adults["lower"] <= women_adults["count"] <= women_adults["upper"]
    gm_cells = [c for c in cells if c["key"][1]["code"] == "GM"]
    for c in gm_cells:  # the stricter threshold, decided on the noisy count
        assert (c["suppressed"] and c["reason"] == "sensitive_threshold") or c["count"] >= 20
    b = _account(warehouse)
    again = _count(warehouse, b, group_by=["age_band", "GENDER"], epsilon=0.1)
    assert again.cached and str(again.epsilon_charged) == "0" and again.body == first.body
    with Session(warehouse) as s:
        assert s.scalar(select(func.sum(LedgerEntry.epsilon_micro))) == 100_000
        assert s.scalar(select(Dataset.spent_micro)) == 100_000
        assert audit.verify(s).ok


def test_policy_errors_name_the_problem(warehouse):
    a = _account(warehouse)
    with pytest.raises(InvalidQuery, match="group_by: unknown dimension") as e:
        _count(warehouse, a, group_by=["religion"])
    assert "complaint_type" in e.value.details["valid"]
    with pytest.raises(InvalidQuery, match="unknown gender code") as e:
        _count(warehouse, a, filters={"gender": ["X"]})
    assert e.value.details["valid"] == ["F", "M", "GM", "U"]
    with pytest.raises(InvalidQuery, match="at most 3"):
        _count(warehouse, a, group_by=["gender", "year", "channel", "platform"])
    with pytest.raises(InvalidQuery, match="within 2024-01 to 2024-12"):
        _count(warehouse, a, period=("2023-01", "2024-03"))
    with pytest.raises(PrivacyRefused) as e:
        _count(warehouse, a, epsilon="0.6")
    assert e.value.code == "epsilon_above_maximum"
    with pytest.raises(PrivacyRefused) as e:
        _count(warehouse, a, group_by=["month", "city", "country"])  # 12 × 42 × 27 cells
    assert e.value.code == "too_many_cells"
    stranger = _account(warehouse, grant=False)
    with pytest.raises(NotFound) as not_granted:
        _count(warehouse, stranger)
    with pytest.raises(NotFound) as missing:
        _count(warehouse, a, dataset="no-such-dataset")
    assert type(not_granted.value) is type(missing.value)


def test_each_budget_limit_refuses_and_charges_nothing(warehouse):
    a = _account(warehouse, budget=250_000)
    _count(warehouse, a, group_by=["gender"])
    _count(warehouse, a, group_by=["year"])
    with pytest.raises(BudgetExhausted) as e:
        _count(warehouse, a, group_by=["channel"])
    assert e.value.code == "account_budget_exceeded"
    shown = e.value.body()["error"]
    assert (shown["remaining"], shown["asked"]) == (0.05, 0.1)  # ε as numbers, like the bodies
    with Session(warehouse) as s, s.begin():
        assert s.scalar(select(func.count()).select_from(Release)) == 2
        assert s.scalar(select(func.sum(LedgerEntry.epsilon_micro))) == 200_000
        dataset = s.scalars(select(Dataset)).one()
        accounts.set_dataset_budget(s, dataset, 250_000, 500_000)
    b = _account(warehouse)
    with pytest.raises(BudgetExhausted) as e:
        _count(warehouse, b, group_by=["platform"])
    assert e.value.code == "dataset_cap_exceeded" and e.value.body()["error"]["remaining"] == 0.05


def test_multi_valued_groups_raise_the_sensitivity(warehouse):
    a = _account(warehouse)
    with Session(warehouse) as s:
        q = releases.CountQuery("helpline-cases", ["vulnerable_group", "referral"], epsilon="0.1")
        prepared = releases.prepare(releases.resolve(s, a, q, SETTINGS), SETTINGS)
    assert prepared.plan.sensitivity == 2 * 2 * 3
    assert prepared.plan.epsilon.micro == 100_000
    assert prepared.sensitive_query is False
    with Session(warehouse) as s:
        q = releases.CountQuery("helpline-cases", ["year"], {"age_band": ["u18"]}, epsilon="0.1")
        assert releases.prepare(releases.resolve(s, a, q, SETTINGS), SETTINGS).sensitive_query


@pytest.mark.postgres
def test_concurrent_queries_never_overspend(pg_migrated_url, tmp_path):
    from schema.db import make_engine
    from tests.conftest import _truncate

    engine = make_engine(pg_migrated_url, pool_size=10, max_overflow=10)
    _truncate(engine)
    path = tmp_path / "export.csv"
    write_export(path, SynthOptions(years=(2024, 2024), seed=4))
    load_file(path, engine, options())
    a = _account(engine, budget=1_000_000)
    queries = [
        ["gender"],
        ["year"],
        ["channel"],
        ["platform"],
        ["age_band"],
        ["province"],
        ["complaint_group"],
        ["fia_city"],
        ["quarter"],
        ["month"],
        ["referral"],
        ["complaint_type"],
        ["country"],
        ["city"],
        ["vulnerable_group"],
        ["gender", "year"],
        ["gender", "channel"],
        ["gender", "platform"],
        ["gender", "quarter"],
        ["gender", "fia_city"],
    ]
    outcomes = []

    def ask(group_by):
        try:
            _count(engine, a, group_by=group_by)
            outcomes.append("released")
        except BudgetExhausted:
            outcomes.append("refused")

    threads = [threading.Thread(target=ask, args=(q,)) for q in queries]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("released") == 10 and outcomes.count("refused") == 10
    with Session(engine) as s:
        assert s.scalar(select(func.sum(LedgerEntry.epsilon_micro))) == 1_000_000
        assert s.scalar(select(func.count()).select_from(Release)) == 10
        assert audit.verify(s).ok
    _truncate(engine)
    engine.dispose()


@pytest.mark.postgres
def test_two_identical_misses_store_one_release_and_charge_once(pg_migrated_url, tmp_path):
    """The second of two concurrent identical misses waits on the first's insert, then
    returns the first's release, cached and free."""
    from schema.db import make_engine
    from tests.conftest import _truncate

    engine = make_engine(pg_migrated_url)
    _truncate(engine)
    path = tmp_path / "export.csv"
    write_export(path, SynthOptions(years=(2024, 2024), seed=4))
    load_file(path, engine, options())
    a, b = _account(engine), _account(engine, budget=500_000)
    query = releases.CountQuery("helpline-cases", ["gender", "province"], epsilon="0.1")
    first = Session(engine, expire_on_commit=False)
    outcome_a = answers.answer(first, a, answers.Count(query), SETTINGS)  # not yet committed
    second: dict = {}

    def ask():
        with Session(engine, expire_on_commit=False) as s, s.begin():
            second["outcome"] = answers.answer(s, b, answers.Count(query), SETTINGS)

    thread = threading.Thread(target=ask)
    thread.start()
    thread.join(timeout=1.0)
    assert thread.is_alive()  # waiting on the first transaction's row
    first.commit()
    first.close()
    thread.join(timeout=30)
    outcome_b = second["outcome"]
    assert not outcome_a.cached and outcome_b.cached
    assert outcome_b.release.public_id == outcome_a.release.public_id
    assert str(outcome_b.epsilon_charged) == "0" and outcome_b.remaining_micro == 500_000
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Release)) == 1
        assert s.scalars(select(LedgerEntry.account_id)).all() == [a.id]
        assert audit.verify(s).ok
    _truncate(engine)
    engine.dispose()
