"""Staff commands through the real ``amaan`` process."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.etl.helpers import case, write_export

AMAAN = str(Path(sys.executable).with_name("amaan"))


def _run(db, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMAAN_")}
    env["AMAAN_DATABASE_URL"] = f"sqlite:///{db}"
    return subprocess.run([AMAAN, *args], capture_output=True, text=True, env=env, timeout=120)


def test_accounts_keys_budgets_and_audit(tmp_path):
    db = tmp_path / "w.db"
    assert _run(db, "db", "upgrade").returncode == 0
    export = write_export(tmp_path / "x.csv", [case(contact_key=f"p{i}@x.pk") for i in range(3)])
    assert (
        _run(db, "etl", "load", str(export), "--dataset", "helpline-cases", "--demo-key").returncode
        == 0
    )
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
