"""docs/example.py, the researchers' walk-through, runs end to end against a real server."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from amaan_client import Amaan

from tests.client.conftest import DATASET

pytestmark = pytest.mark.slow  # a real server and the example as a process

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "example.py"


def run(args, env):
    return subprocess.run(
        [sys.executable, str(EXAMPLE), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_example_runs_and_spends_only_once(served):
    key = served.keys["researcher"]
    with Amaan(served.url, key) as amaan:
        before = amaan.budget(DATASET)
        first = run([served.url, key], served.env)
        assert first.returncode == 0, first.stderr
        assert amaan.budget(DATASET) == before - Decimal("0.2")
        # The pivot: a row per year of the declared coverage, a column per gender label.
        genders = next(d for d in amaan.dimensions(DATASET) if d["name"] == "gender")
        header = next(line for line in first.stdout.splitlines() if line.startswith("gender_label"))
        assert all(c["label"].split()[0] in header for c in genders["codes"])
        assert "release r_" in first.stdout and "share %" in first.stdout
        again = run([], served.env | {"AMAAN_URL": served.url, "AMAAN_KEY": key})
        assert again.returncode == 0, again.stderr
        assert amaan.budget(DATASET) == before - Decimal("0.2")  # the same queries: cached
        assert "ε charged 0," in again.stdout


def test_a_refusal_is_reported_not_a_traceback(served):
    refused = run([served.url, served.keys["partner"]], served.env)  # partners have no budget
    assert refused.returncode == 1
    assert refused.stderr.startswith("refused: ") and "Traceback" not in refused.stderr


def test_the_readme_first_screen_client_example_works_as_pasted(served):
    readme = (EXAMPLE.parents[1] / "README.md").read_text(encoding="utf-8")
    snippet = readme.split("```python\n", 1)[1].split("```", 1)[0]
    assert '"http://127.0.0.1:8000"' in snippet and '"<researcher key>"' in snippet
    code = snippet.replace('"http://127.0.0.1:8000"', repr(served.url))
    code = code.replace('"<researcher key>"', repr(served.keys["researcher"]))
    *lines, last = code.strip().splitlines()
    scope: dict[str, object] = {}
    exec("\n".join(lines), scope)  # the README's own text, run as a reader would
    try:
        table = eval(last.split("  #")[0], scope)
    finally:
        scope["amaan"].close()  # type: ignore[attr-defined]
    assert {"year", "gender", "count", "lower", "upper"} <= set(table.columns)
    assert table.attrs["epsilon"] == Decimal("0.1") and len(table) > 0  # charged, or cached
