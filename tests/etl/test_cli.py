"""The ``amaan`` console command, run as a real process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import case, write_export

pytestmark = pytest.mark.slow  # the terminal's commands, each a process of its own

AMAAN = str(Path(sys.executable).with_name("amaan"))
REPORT_KEYS = {
    "dataset",
    "version",
    "unchanged",
    "rows_read",
    "rows_rejected",
    "rejects_file",
    "columns_dropped",
    "cases_cut_by_person_bound",
    "values_cut_by_multi_value_bound",
    "cases_loaded",
    "cases_loaded_by_year",
    "covers",
    "version_covers",
    "consent_refused",
    "duplicates_skipped",
    "duplicates_within_file",
    "duplicates_loaded_before",
    "case_refs",
}


def _run(args, db, key=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMAAN_")}
    env["AMAAN_DATABASE_URL"] = f"sqlite:///{db}"
    if key:
        env["AMAAN_PSEUDONYM_KEY"] = key
    return subprocess.run([AMAAN, *args], capture_output=True, text=True, env=env, timeout=120)


def test_upgrade_load_json_and_repeat(tmp_path):
    db = tmp_path / "w.db"
    assert _run(["db", "upgrade"], db).returncode == 0
    path = write_export(tmp_path / "x.csv", [case(contact_key=f"p{i}@x.pk") for i in range(5)])
    covers = ["--covers", "2024-01:2024-12"]
    refused = _run(["etl", "load", str(path), "--dataset", "helpline-cases", *covers], db)
    assert refused.returncode != 0
    assert "AMAAN_PSEUDONYM_KEY is not set" in refused.stderr
    first = _run(
        ["etl", "load", str(path), "--dataset", "helpline-cases", "--json", *covers],
        db,
        key="a-long-secret-key-for-tests",
    )
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report.keys() >= REPORT_KEYS
    assert (report["cases_loaded"], report["unchanged"], report["version"]) == (5, False, 1)
    assert (report["covers"], report["version_covers"]) == ("2024-01:2024-12", "2024-01:2024-12")
    again = _run(
        ["etl", "load", str(path), "--dataset", "helpline-cases", *covers],
        db,
        key="a-long-secret-key-for-tests",
    )
    assert again.returncode == 0 and "already loaded as version 1" in again.stdout


def test_refusal_exits_non_zero_with_the_reason(tmp_path):
    db = tmp_path / "w.db"
    _run(["db", "upgrade"], db)
    path = tmp_path / "x.csv"
    path.write_text("name,phone\nA,1\n")
    result = _run(
        ["etl", "load", str(path), "--dataset", "d", "--demo-key", "--covers", "2024-01:2024-12"],
        db,
    )
    assert result.returncode == 1
    assert "missing required column(s): received_on, contact_key, complaint_type, gender" in (
        result.stderr
    )


def test_bad_settings_stop_with_a_message(tmp_path):
    env_db = tmp_path / "w.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMAAN_")}
    env |= {"AMAAN_DATABASE_URL": f"sqlite:///{env_db}", "AMAAN_SUPPRESSION_THRESHOLD": "0"}
    result = subprocess.run([AMAAN, "db", "upgrade"], capture_output=True, text=True, env=env)
    assert result.returncode == 1
    assert "invalid settings: AMAAN_SUPPRESSION_THRESHOLD: " in result.stderr
