"""``amaan audit checkpoint`` and ``verify --checkpoint`` through the real ``amaan``: removing
the newest entries and setting the head to match passes the chain, not the checkpoint; and
the audit key is required in production."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # the terminal's commands, each a process of its own

AMAAN = str(Path(sys.executable).with_name("amaan"))


def _run(db, *args, **env_extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMAAN_")}
    env |= {"AMAAN_DATABASE_URL": f"sqlite:///{db}", "AMAAN_AUDIT_KEY": "cli-test-audit-key-0001"}
    env |= env_extra
    return subprocess.run([AMAAN, *args], capture_output=True, text=True, env=env, timeout=120)


def _staff_change(db, name):
    made = _run(db, "accounts", "create", "--name", name, "--role", "partner", "--json")
    assert made.returncode == 0, made.stderr


def test_a_checkpoint_catches_the_removal_of_the_newest_entries(tmp_path):
    db = tmp_path / "w.db"
    assert _run(db, "db", "upgrade").returncode == 0
    for name in ("a", "b", "c"):
        _staff_change(db, name)
    printed = _run(db, "audit", "checkpoint")
    assert printed.returncode == 0, printed.stderr
    checkpoint = json.loads(printed.stdout)
    assert checkpoint["sequence"] == 6 and len(checkpoint["hash"]) == 64 and checkpoint["time"]
    kept = tmp_path / "checkpoint.json"
    kept.write_text(printed.stdout)
    _staff_change(db, "d")
    ok = _run(db, "audit", "verify", "--checkpoint", str(kept))
    assert ok.returncode == 0 and "8 entries, matches the checkpoint at 6" in ok.stdout, ok.stderr

    con = sqlite3.connect(db)
    with con:  # keep two entries and make the head match them
        con.execute("DELETE FROM audit_log WHERE seq > 2")
        con.execute(
            "UPDATE audit_head SET entries = 2, "
            "last_hash = (SELECT hash FROM audit_log WHERE seq = 2)"
        )
    con.close()
    assert _run(db, "audit", "verify").returncode == 0  # the chain alone cannot tell
    caught = _run(db, "audit", "verify", "--checkpoint", str(kept))
    assert caught.returncode == 1 and "ends before the checkpoint" in caught.stderr
    wrong_key = _run(db, "audit", "verify", AMAAN_AUDIT_KEY="another-audit-key-0000")
    assert wrong_key.returncode == 1 and "AMAAN_AUDIT_KEY is not the key" in wrong_key.stderr

    kept.write_text('{"sequence": "3", "hash": "x"}')
    bad = _run(db, "audit", "verify", "--checkpoint", str(kept))
    assert bad.returncode == 2 and "--checkpoint" in bad.stderr and "whole number" in bad.stderr


def test_production_needs_a_secret_audit_key(tmp_path):
    db = tmp_path / "w.db"
    for key, problem in (
        ("", "AMAAN_AUDIT_KEY must be set to a secret in production"),
        ("amaan-demo-audit-key-not-for-production", "must be set to a secret in production"),
        ("short", "at least 16 characters"),
    ):
        run = _run(db, "audit", "verify", AMAAN_ENVIRONMENT="production", AMAAN_AUDIT_KEY=key)
        assert run.returncode == 1 and problem in run.stderr, run.stderr


def test_a_command_with_another_audit_key_is_refused_before_it_writes(tmp_path):
    """Found by the red team: one staff command run without the service's key (development
    falls back to the public demo key) broke verification for good."""
    db = tmp_path / "w.db"
    assert _run(db, "db", "upgrade").returncode == 0
    _staff_change(db, "a")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMAAN_")}
    env["AMAAN_DATABASE_URL"] = f"sqlite:///{db}"  # no AMAAN_AUDIT_KEY: the demo key
    other = subprocess.run(
        [AMAAN, "accounts", "create", "--name", "b", "--role", "partner"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert other.returncode == 1 and "AMAAN_AUDIT_KEY" in other.stderr, other.stderr
    assert "Traceback" not in other.stderr
    listed = json.loads(_run(db, "accounts", "list").stdout)
    assert [a["name"] for a in listed] == ["a"]
    verified = _run(db, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
