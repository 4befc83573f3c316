"""``amaan demo`` makes a working warehouse, demo accounts and keys that work."""

import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from schema.settings import Settings

AMAAN = str(Path(sys.executable).with_name("amaan"))


def test_demo_prints_working_keys(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMAAN_")}
    url = f"sqlite:///{tmp_path / 'amaan.db'}"
    env["AMAAN_DATABASE_URL"] = url
    run = subprocess.run(
        [AMAAN, "demo", "--no-serve", "--data-dir", str(tmp_path / "data")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "cases loaded                       20,020" in run.stdout
    keys = dict(
        line.split()
        for line in run.stdout.splitlines()
        if line.startswith("  ")
        and line.split()[0] in ("researcher", "partner", "admin")
        and len(line.split()) == 2
    )
    assert set(keys) == {"researcher", "partner", "admin"}
    assert "/v1/queries" in run.stdout and "/graphql" in run.stdout
    with TestClient(create_app(Settings(database_url=url))) as client:
        me = client.get("/v1/me", headers={"Authorization": f"Bearer {keys['researcher']}"})
        assert me.json()["role"] == "researcher"
        assert me.json()["budgets"][0]["remaining"] == "1"
        partner = {"Authorization": f"Bearer {keys['partner']}"}
        extracts = client.get("/v1/releases", headers=partner).json()
        assert [e["title"] for e in extracts] == ["Complaints by year and group"]
        csv = client.get(f"/v1/releases/{extracts[0]['release_id']}?format=csv", headers=partner)
        assert csv.status_code == 200 and csv.text.startswith(
            "complaint_group,complaint_group_label,"
        )
        assert f"/v1/releases/{extracts[0]['release_id']}?format=csv" in run.stdout
        staff = {"Authorization": f"Bearer {keys['admin']}"}
        budgets = client.get("/v1/admin/budgets", headers=staff).json()
        assert budgets["datasets"][0]["spent"] == "0.2"
