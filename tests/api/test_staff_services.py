"""The staff services on their own (no HTTP): typed results holding ε, each check made in one
place and before anything is written, every change audited with who made it."""

import json

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.errors import InvalidChange, NotFound
from api.staff import accounts, budgets, records
from api.staff.common import Actor
from privacy import Epsilon
from schema.access import Account, AuditEntry
from schema.models import Dataset


def _dataset(s, slug="d"):
    d = Dataset(
        slug=slug,
        title="D",
        max_cases_per_person=2,
        max_vulnerable_groups=2,
        max_referrals=3,
        cap_micro=10_000_000,
        spent_micro=0,
        max_per_query_micro=500_000,
    )
    s.add(d)
    s.flush()
    return d


def test_results_are_typed_and_hold_epsilon(engine):
    with Session(engine) as s, s.begin():
        _dataset(s)
        issued = accounts.create_account(
            s, Actor(), name="Dr A", role="researcher", datasets=["d"], budget=Epsilon(500_000)
        )
        change = budgets.set_account_budget(
            s, Actor(), issued.account_id, "D", Epsilon.parse("0.8"), "  pilot  "
        )
        assert change == budgets.LimitChange(
            issued.account_id, "d", Epsilon(500_000), Epsilon(800_000)
        )
        overview = budgets.overview(s)
        (dataset,) = overview.datasets
        assert (dataset.cap, dataset.remaining, dataset.share_used) == (
            Epsilon(10_000_000),
            Epsilon(10_000_000),
            0.0,
        )
        (spend,) = overview.accounts
        assert (spend.limit, spend.spent, spend.flagged) == (Epsilon(800_000), Epsilon(0), False)
        view = accounts.view(s, issued.account_id)
        assert (view.datasets, [k.key_id for k in view.keys]) == (["d"], [issued.key_id])
        assert view.budgets == [spend]
        assert len(issued.key) >= 43
        details = " ".join(s.scalars(select(AuditEntry.detail)))
        assert issued.key not in details


def test_each_check_refuses_before_anything_is_written(engine):
    with Session(engine) as s, s.begin():
        _dataset(s)
        with pytest.raises(InvalidChange, match="role must be one of"):
            accounts.create_account(s, Actor(), name="x", role="owner")
        with pytest.raises(InvalidChange, match="needs a name"):
            accounts.create_account(s, Actor(), name=" ", role="partner")
        with pytest.raises(NotFound, match="no dataset 'nope'"):
            accounts.create_account(s, Actor(), name="x", role="partner", datasets=["nope"])
        with pytest.raises(InvalidChange) as refused:
            budgets.DatasetLimits(Epsilon.parse("1"), Epsilon.parse("2"))
        assert refused.value.details == {"field": "max_per_query", "not_above": "cap"}
        limits = budgets.DatasetLimits(Epsilon.parse("2"), Epsilon.parse("0.5"))
        with pytest.raises(InvalidChange) as blank:
            budgets.set_dataset_budget(s, Actor(), "d", limits, "  ")
        assert blank.value.details == {"field": "reason"}
        s.rollback()
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Account)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_staff_have_no_query_budget_and_cannot_deactivate_themselves(engine):
    with Session(engine) as s, s.begin():
        _dataset(s)
        issued = accounts.create_account(s, Actor(), name="Staff", role="admin", datasets=["d"])
        staff = s.get(Account, issued.account_id)
        with pytest.raises(InvalidChange, match="no query budget"):
            budgets.set_account_budget(s, Actor(staff), staff.id, "d", Epsilon(1), "r")
        with pytest.raises(InvalidChange, match="their own account"):
            accounts.update_account(s, Actor(staff), staff.id, active=False)
        assert budgets.overview(s).accounts == []  # staff got no budget at creation either


def test_changes_are_audited_with_who_made_them(engine):
    with Session(engine) as s, s.begin():
        _dataset(s)
        issued = accounts.create_account(s, Actor(), name="NGO", role="partner")
        staff_key = accounts.create_account(s, Actor(), name="Staff", role="admin")
        staff = Actor(s.get(Account, staff_key.account_id))
        budgets.set_account_budget(s, staff, issued.account_id, "d", Epsilon(250_000), "pilot")
        accounts.revoke_key(s, Actor(), issued.key_id)
    with Session(engine) as s:
        rows = records.audit_log(s, records.Filters())
        by_action = {r.action: r for r in rows}
        assert [r.id for r in rows] == sorted((r.id for r in rows), reverse=True)  # newest first
        assert json.loads(by_action["account.create"].detail)["by"] == "cli"
        budget = by_action["budget.account"]
        assert budget.account_id == staff_key.account_id and budget.epsilon == Epsilon(250_000)
        assert json.loads(budget.detail) == {
            "by": f"account:{staff_key.account_id}",
            "account": issued.account_id,
            "old_micro": None,
            "new_micro": 250_000,
            "reason": "pilot",
        }
        assert by_action["key.revoke"].epsilon is None
        assert records.ledger(s, records.Filters(dataset="d")) == []
        with pytest.raises(NotFound):
            records.ledger(s, records.Filters(dataset="nope"))
        csv = records.as_csv(records.AUDIT_COLUMNS, rows).splitlines()
        assert csv[0] == ",".join(records.AUDIT_COLUMNS) and len(csv) == 1 + len(rows)
        assert rows[0].at.isoformat() in csv[1]
