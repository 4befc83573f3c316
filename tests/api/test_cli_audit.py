"""``amaan audit checkpoint`` and ``verify --checkpoint``: removing the newest entries and
setting the head to match passes the chain, not the checkpoint; and the audit key is required
in production (through the real ``amaan`` process: settings are read as it starts). The other
commands run as the console script runs them, in this process (``tests.api.cli_runner``)."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.cli_runner import run_amaan

pytestmark = pytest.mark.slow  # the production settings' commands, each a process of its own

AMAAN = str(Path(sys.executable).with_name("amaan"))
AUDIT_KEY = "cli-test-audit-key-0001"


def _run(db, *args, **env_extra):
    return run_amaan(db, *args, **({"AMAAN_AUDIT_KEY": AUDIT_KEY} | env_extra))


def _real_process(db, *args, **env_extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMAAN_")}
    env |= {"AMAAN_DATABASE_URL": f"sqlite:///{db}", "AMAAN_AUDIT_KEY": AUDIT_KEY}
    env |= env_extra
    return subprocess.run([AMAAN, *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def db(tmp_path, sqlite_template):
    """A migrated warehouse (``amaan db upgrade`` itself: ``test_cli_checks``)."""
    path = tmp_path / "w.db"
    shutil.copy(sqlite_template, path)
    return path


def _staff_change(db, name):
    made = _run(db, "accounts", "create", "--name", name, "--role", "partner", "--json")
    assert made.returncode == 0, made.stderr


def test_a_checkpoint_catches_the_removal_of_the_newest_entries(tmp_path, db):
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
        run = _real_process(
            db, "audit", "verify", AMAAN_ENVIRONMENT="production", AMAAN_AUDIT_KEY=key
        )
        assert run.returncode == 1 and problem in run.stderr, run.stderr


def test_a_command_with_another_audit_key_is_refused_before_it_writes(db):
    """Found by the red team: one staff command run without the service's key (development
    falls back to the public demo key) broke verification for good."""
    _staff_change(db, "a")
    # no AMAAN_AUDIT_KEY: the demo key
    other = run_amaan(db, "accounts", "create", "--name", "b", "--role", "partner")
    assert other.returncode == 1 and "AMAAN_AUDIT_KEY" in other.stderr, other.stderr
    assert "Traceback" not in other.stderr
    listed = json.loads(_run(db, "accounts", "list").stdout)
    assert [a["name"] for a in listed] == ["a"]
    verified = _run(db, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
