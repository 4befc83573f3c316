"""``amaan serve`` writes one JSON line per request: the route's template, never the raw
path, a key, a query string value or a body."""

import json
import os

import httpx
import pytest

from tests.api.conftest import auth, build_world
from tests.api.servers import server_process

MARKER = "zq7marker"  # in a path, a query string and a body; never in a log line


@pytest.fixture
def served(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    from schema.migrate import upgrade

    upgrade(url)
    keys, engine = build_world(url, tmp_path)
    engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMAAN_")}
    env |= {"AMAAN_DATABASE_URL": url, "AMAAN_RATE_LIMIT_RESEARCHER": "1000/minute"}
    return env, keys, tmp_path / "server.out"


def _lines(out_path):
    text = out_path.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return text, lines


def test_one_json_line_per_request_without_keys_paths_or_bodies(served):
    env, keys, out_path = served
    with out_path.open("w") as out, server_process(env, workers=1, stdout=out) as (base, _):
        alice = auth(keys["alice"])
        me = httpx.get(f"{base}/v1/me", headers=alice).json()["id"]
        asked = [
            httpx.get(f"{base}/v1/me", headers=alice),
            httpx.get(f"{base}/v1/dimensions", params={"dataset": MARKER}, headers=alice),
            httpx.post(f"{base}/v1/queries", json={"dataset": MARKER}, headers=alice),
            httpx.get(f"{base}/v1/releases/{MARKER}", headers=alice),
            httpx.get(f"{base}/v1/me"),  # no key
            httpx.get(f"{base}/v1/me", headers=auth(keys["revoked"])),
            httpx.get(f"{base}/{MARKER}", headers=alice),  # no such route
        ]
    assert [r.status_code for r in asked] == [200, 404, 422, 404, 401, 401, 404]
    text, lines = _lines(out_path)
    for key in keys.values():
        assert key not in text
    assert MARKER not in text
    requests = [line for line in lines if line["route"] != "/healthz"]
    assert len(requests) == 1 + len(asked)
    for line in requests:
        assert set(line) <= {"at", "method", "route", "status", "duration_ms", "account"}
        assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    got = [(r["method"], r["route"], r["status"], r.get("account")) for r in requests[1:]]
    assert got == [
        ("GET", "/v1/me", 200, me),
        ("GET", "/v1/dimensions", 404, me),
        ("POST", "/v1/queries", 422, me),
        ("GET", "/v1/releases/{release_id}", 404, me),
        ("GET", "/v1/*", 401, None),  # refused before routing: the surface
        ("GET", "/v1/*", 401, None),
        ("GET", "unmatched", 404, None),
    ]


def test_request_log_can_be_turned_off(served):
    env, keys, out_path = served
    env = env | {"AMAAN_REQUEST_LOG": "false"}
    with out_path.open("w") as out, server_process(env, workers=1, stdout=out) as (base, _):
        assert httpx.get(f"{base}/v1/me", headers=auth(keys["alice"])).status_code == 200
    assert _lines(out_path)[1] == []
    assert "Uvicorn running" in out_path.read_text()  # the server's own messages stay
