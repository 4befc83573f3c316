"""``amaan demo`` makes a working warehouse, demo accounts and keys that work."""

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from schema.settings import Settings
from tests.api.servers import run_demo

pytestmark = pytest.mark.slow  # the demo, run as a process


def test_demo_prints_working_keys(tmp_path):
    env, keys, printed = run_demo(tmp_path)
    url = env["AMAAN_DATABASE_URL"]
    assert "cases loaded                       20,020" in printed
    assert set(keys) == {"researcher", "partner", "admin"}
    assert "/v1/queries" in printed and "/graphql" in printed
    with TestClient(create_app(Settings(database_url=url))) as client:
        me = client.get("/v1/me", headers={"Authorization": f"Bearer {keys['researcher']}"})
        assert me.json()["role"] == "researcher"
        assert me.json()["budgets"][0]["remaining"] == 1
        partner = {"Authorization": f"Bearer {keys['partner']}"}
        extracts = client.get("/v1/releases", headers=partner).json()["items"]
        assert [e["title"] for e in extracts] == ["Complaints by year and group"]
        csv = client.get(f"/v1/releases/{extracts[0]['release_id']}?format=csv", headers=partner)
        assert csv.status_code == 200 and csv.text.startswith(
            "year,complaint_group,complaint_group_label,"  # as the demo published it
        )
        assert f"/v1/releases/{extracts[0]['release_id']}?format=csv" in printed
        staff = {"Authorization": f"Bearer {keys['admin']}"}
        budgets = client.get("/v1/admin/budgets", headers=staff).json()
        assert budgets["datasets"][0]["spent"] == 0.2
