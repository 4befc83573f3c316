"""``releases.claim_and_charge``: one statement on PostgreSQL, claim then charge on SQLite;
both must write exactly what ``claim`` followed by ``charge`` wrote, and refuse the same way."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from schema.access import AccountBudget, LedgerEntry, Release
from schema.models import Dataset, DatasetVersion
from schema.repositories import accounts
from schema.repositories import releases as repo

EPSILON = 100_000


def _world(engine, limit: int = 250_000, cap: int = 10_000_000) -> dict[str, int]:
    with Session(engine) as s, s.begin():
        d = Dataset(
            slug="d",
            title="D",
            max_cases_per_person=2,
            max_vulnerable_groups=2,
            max_referrals=3,
            cap_micro=cap,
            spent_micro=0,
            max_per_query_micro=500_000,
        )
        s.add(d)
        s.flush()
        v = DatasetVersion(
            dataset_id=d.id, number=1, codelist_version="1", first_month="2024-01",
            last_month="2024-12",
        )  # fmt: skip
        account = accounts.create_account(s, name="Dr A", role="researcher")
        s.add(v)
        s.flush()
        s.add(AccountBudget(account_id=account.id, dataset_id=d.id, limit_micro=limit))
        return {"dataset": d.id, "version": v.id, "account": account.id}


def _release(ids: dict[str, int], key: str, kind: str = "query") -> Release:
    return Release(
        canonical_key=key,
        dataset_id=ids["dataset"],
        version_id=ids["version"],
        account_id=ids["account"],
        kind=kind,
        query="{}",
        epsilon_micro=EPSILON,
    )


def _books(engine, ids: dict[str, int]) -> tuple[int, int, int, int]:
    """(account spent, dataset spent, ledger entries, releases)."""
    with Session(engine) as s:
        budget = s.get(AccountBudget, (ids["account"], ids["dataset"]))
        dataset = s.get(Dataset, ids["dataset"])
        assert budget is not None and dataset is not None
        ledger = s.scalar(select(func.count()).select_from(LedgerEntry))
        releases = s.scalar(select(func.count()).select_from(Release))
        return budget.spent_micro, dataset.spent_micro, ledger or 0, releases or 0


def test_a_claim_is_charged_to_the_account_and_the_dataset_and_booked(engine):
    ids = _world(engine)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2].split()[0]))
    with Session(engine) as s, s.begin():
        claimed, spent = repo.claim_and_charge(s, _release(ids, "k1"))
        assert claimed is not None and claimed.id is not None
        assert claimed.public_id.startswith("r_") and claimed.body == "" and not claimed.failed
        assert spent == EPSILON
        repo.fill(s, claimed, "", "{}", b"packed")
        claimed_id, public_id = claimed.id, claimed.public_id
    sqlite = ["INSERT", "UPDATE", "UPDATE", "INSERT"]  # claim, account, dataset, ledger
    expected = ["WITH"] if engine.dialect.name == "postgresql" else sqlite
    sent = [kind for kind in statements if kind != "BEGIN"]
    assert sent == [*expected, "UPDATE"]  # and the body's
    assert _books(engine, ids) == (EPSILON, EPSILON, 1, 1)
    with Session(engine) as s:
        entry = s.scalars(select(LedgerEntry)).one()
        assert (entry.account_id, entry.dataset_id, entry.kind) == (
            ids["account"],
            ids["dataset"],
            "query",
        )
        assert entry.release_id == claimed_id and entry.epsilon_micro == EPSILON
        stored = s.get(Release, claimed_id)
        assert stored is not None and stored.packed == b"packed"
        assert stored.public_id == public_id and stored.canonical_key == "k1"


def test_a_publication_charges_only_the_dataset(engine):
    ids = _world(engine)
    with Session(engine) as s, s.begin():
        claimed, spent = repo.claim_and_charge(
            s, _release(ids, "k1", "publication"), charge_account=False
        )
        assert claimed is not None and spent is None
    assert _books(engine, ids) == (0, EPSILON, 1, 1)


def test_a_held_query_is_neither_claimed_nor_charged(engine):
    ids = _world(engine)
    with Session(engine) as s, s.begin():
        assert repo.claim_and_charge(s, _release(ids, "k1"))[0] is not None
    with Session(engine) as s, s.begin():
        assert repo.claim_and_charge(s, _release(ids, "k1")) == (None, None)
    assert _books(engine, ids) == (EPSILON, EPSILON, 1, 1)


@pytest.mark.parametrize("limit", ["account_budget", "dataset_cap"])
def test_a_refused_charge_leaves_nothing_once_its_savepoint_is_undone(engine, limit):
    budget, cap = (150_000, 10_000_000) if limit == "account_budget" else (10_000_000, 150_000)
    ids = _world(engine, limit=budget, cap=cap)
    with Session(engine) as s, s.begin():
        repo.claim_and_charge(s, _release(ids, "k1"))
    with Session(engine) as s, s.begin():
        with pytest.raises(repo.BudgetExceeded) as refused, s.begin_nested():
            repo.claim_and_charge(s, _release(ids, "k2"))
        assert (refused.value.limit, refused.value.remaining_micro) == (limit, 50_000)
        assert refused.value.asked_micro == EPSILON
    with Session(engine) as s, s.begin():  # seen before any rollback: no entry was booked
        with pytest.raises(repo.BudgetExceeded):
            repo.claim_and_charge(s, _release(ids, "k3"))
        assert s.scalar(select(func.count()).select_from(LedgerEntry)) == 1
        s.rollback()
    assert _books(engine, ids) == (EPSILON, EPSILON, 1, 1)


def test_concurrent_claims_never_overspend(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    ids = _world(engine, limit=350_000)
    outcomes: list[str] = []
    start = threading.Barrier(8)

    def ask(n: int) -> None:
        with Session(engine) as s, s.begin():
            start.wait()
            try:
                with s.begin_nested():
                    claimed, _ = repo.claim_and_charge(s, _release(ids, f"k{n % 6}"))
                outcomes.append("held" if claimed is None else "charged")
            except repo.BudgetExceeded:
                outcomes.append("refused")

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Six keys, two asked twice: 3 charged (the budget's 350,000 holds three), every other
    # ask either refused or held by an identical claim; nothing over the limit.
    assert outcomes.count("charged") == 3
    assert len(outcomes) == 8
    spent, dataset_spent, ledger, releases = _books(engine, ids)
    assert (spent, dataset_spent, ledger, releases) == (3 * EPSILON, 3 * EPSILON, 3, 3)
