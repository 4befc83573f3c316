"""Staff commands, run as the ``amaan`` console script runs them (in this process: see
``tests.api.cli_runner``); one last command through the real ``amaan`` process reads what
they wrote."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.cli_runner import run_amaan
from tests.etl.helpers import case, write_export

pytestmark = pytest.mark.slow  # a warehouse loaded and changed by some twenty commands

AMAAN = str(Path(sys.executable).with_name("amaan"))


def _run(db, *args):
    return run_amaan(db, *args)


def _real_process(db, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMAAN_")}
    env["AMAAN_DATABASE_URL"] = f"sqlite:///{db}"
    return subprocess.run([AMAAN, *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def db(tmp_path, sqlite_template):
    """A migrated warehouse (``amaan db upgrade`` itself: ``test_cli_checks``)."""
    path = tmp_path / "w.db"
    shutil.copy(sqlite_template, path)
    return path


def test_accounts_keys_budgets_and_audit(tmp_path, db):
    export = write_export(tmp_path / "x.csv", [case(contact_key=f"p{i}@x.pk") for i in range(3)])
    load = ["etl", "load", str(export), "--dataset", "helpline-cases", "--demo-key"]
    assert _run(db, *load, "--covers", "2024-01:2024-12").returncode == 0
    made = _run(
        db,
        "accounts",
        "create",
        "--name",
        "Dr R",
        "--role",
        "researcher",
        "--dataset",
        "helpline-cases",
        "--budget",
        "1.0",
        "--json",
    )
    assert made.returncode == 0, made.stderr
    out = json.loads(made.stdout)
    assert set(out) == {"account_id", "key_id", "key"} and len(out["key"]) >= 43
    con = sqlite3.connect(db)
    assert con.execute("SELECT limit_micro, spent_micro FROM account_budgets").fetchall() == [
        (1_000_000, 0)
    ]
    assert out["key"] not in str(con.execute("SELECT * FROM api_keys").fetchall())
    con.close()
    missing = _run(
        db, "accounts", "create", "--name", "X", "--role", "partner", "--dataset", "nope"
    )
    assert missing.returncode == 1 and "no dataset 'nope'" in missing.stderr
    no_reason = _run(
        db, "datasets", "set-budget", "helpline-cases", "--cap", "2", "--max-per-query", "0.5"
    )
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
    too_big = _run(
        db,
        "datasets",
        "set-budget",
        "helpline-cases",
        "--cap",
        "1",
        "--max-per-query",
        "2",
        "--reason",
        "pilot",
    )
    assert too_big.returncode == 2 and "must not exceed --cap" in too_big.stderr
    ok = _run(
        db,
        "datasets",
        "set-budget",
        "helpline-cases",
        "--cap",
        "2",
        "--max-per-query",
        "0.25",
        "--reason",
        "pilot year",
    )
    assert ok.returncode == 0 and "cap 2 ε, at most 0.25 ε per query" in ok.stdout
    assert _run(db, "keys", "revoke", str(out["key_id"])).returncode == 0
    assert _run(db, "keys", "revoke", "999").returncode == 1
    verified = _run(db, "audit", "verify")
    assert verified.returncode == 0 and "intact: 5 entries" in verified.stdout
    con = sqlite3.connect(db)
    with con:
        con.execute("UPDATE audit_log SET detail = '{}' WHERE action = 'budget.dataset'")
    con.close()
    broken = _run(db, "audit", "verify")
    assert broken.returncode == 1 and "changed after it was written" in broken.stderr


def test_the_admin_api_is_reachable_from_the_terminal(tmp_path, db):
    export = write_export(tmp_path / "x.csv", [case(contact_key=f"p{i}@x.pk") for i in range(30)])
    load = ["etl", "load", str(export), "--dataset", "helpline-cases", "--demo-key"]
    loaded = _run(db, *load, "--covers", "2024-01:2024-12")
    assert loaded.returncode == 0, loaded.stderr
    created = {}
    for role in ("researcher", "partner", "admin"):
        run = _run(
            db,
            "accounts",
            "create",
            "--name",
            role,
            "--role",
            role,
            "--json",
            "--dataset",
            "helpline-cases",
        )
        assert run.returncode == 0, run.stderr
        created[role] = json.loads(run.stdout)
    partner = created["partner"]["account_id"]
    assert json.loads(_run(db, "accounts", "show", str(partner)).stdout)["budgets"] == []
    no_reason = _run(
        db,
        "accounts",
        "set-budget",
        str(partner),
        "--dataset",
        "helpline-cases",
        "--epsilon",
        "0.5",
        "--reason",
        " ",
    )
    assert no_reason.returncode == 1 and "written reason" in no_reason.stderr
    ok = _run(
        db,
        "accounts",
        "set-budget",
        str(partner),
        "--dataset",
        "helpline-cases",
        "--epsilon",
        "0.5",
        "--reason",
        "pilot with the NGO",
    )
    assert ok.returncode == 0 and "limit 0.5 ε (was none)" in ok.stdout
    issued = json.loads(_run(db, "keys", "issue", str(partner), "--json").stdout)
    assert issued["account_id"] == partner and len(issued["key"]) >= 43
    assert _run(db, "accounts", "update", str(partner), "--inactive").returncode == 0
    shown = json.loads(_run(db, "accounts", "show", str(partner)).stdout)
    assert shown["active"] is False and len(shown["keys"]) == 2
    assert "key" not in shown["keys"][0] and shown["budgets"][0]["limit"] == "0.5"

    query = tmp_path / "q.json"
    query.write_text(
        json.dumps({"dataset": "helpline-cases", "group_by": ["gender"], "epsilon": 0.1})
    )
    not_staff = _run(
        db,
        "releases",
        "publish",
        "--as",
        str(partner),
        "--title",
        "T",
        "--query",
        str(query),
        "--audience",
        "all-partners",
    )
    assert not_staff.returncode == 2 and "staff" in not_staff.stderr
    published = _run(
        db,
        "releases",
        "publish",
        "--as",
        str(created["admin"]["account_id"]),
        "--title",
        "By gender",
        "--query",
        str(query),
        "--audience",
        "all-partners",
    )
    assert published.returncode == 0, published.stderr
    assert json.loads(published.stdout)["epsilon_charged"] == "0.1"
    too_much = tmp_path / "too-much.json"
    too_much.write_text(
        json.dumps({"dataset": "helpline-cases", "group_by": ["year"], "epsilon": 9})
    )
    refused = _run(
        db,
        "releases",
        "publish",
        "--as",
        str(created["admin"]["account_id"]),
        "--title",
        "Too much",
        "--query",
        str(too_much),
        "--audience",
        "all-partners",
    )
    assert refused.returncode == 1 and "above the maximum per query" in refused.stderr
    refusals = json.loads(_run(db, "audit", "list", "--action", "publication").stdout)
    assert [e["outcome"] for e in refusals] == ["epsilon_above_maximum", "released"]  # newest first
    listed = json.loads(_run(db, "releases", "list").stdout)
    assert [(r["title"], r["audience"], r["downloads"]) for r in listed] == [
        ("By gender", ["all-partners"], 0)
    ]
    ledger = _run(db, "ledger", "--csv")
    lines = ledger.stdout.splitlines()
    assert lines[0] == "id,at,account_id,dataset,release_id,kind,epsilon"
    assert lines[1].endswith(
        ",helpline-cases," + json.loads(published.stdout)["release_id"] + ",publication,0.1"
    )
    overview = json.loads(_run(db, "budgets").stdout)
    assert overview["datasets"][0]["spent"] == "0.1"
    budget_changes = json.loads(_run(db, "audit", "list", "--action", "budget.account").stdout)
    reasons = [json.loads(e["detail"])["reason"] for e in budget_changes]
    assert "pilot with the NGO" in reasons
    verified = _real_process(db, "audit", "verify")
    assert verified.returncode == 0 and "intact: 13 entries" in verified.stdout, verified.stderr
