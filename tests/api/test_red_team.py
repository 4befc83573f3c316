"""Findings of the second red team in the release pipeline, each with its test: a busy
database during the read keeps nothing, an old release keeps its own policy at any confidence,
a failed release answers as such wherever it is read, CSV honours the confidence asked, and
strings that cannot be ids never reach the database."""

import csv
import io
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from api.app import create_app
from schema.access import LedgerEntry, Release
from tests.api.conftest import auth, settings_for

QUERY = {"dataset": "helpline-cases", "group_by": ["province", "gender"], "epsilon": 0.1}


def _count(engine, table):
    with Session(engine) as s:
        return s.scalar(select(func.count()).select_from(table))


@pytest.mark.postgres
def test_a_lock_during_the_read_keeps_nothing_and_a_retry_succeeds(api, world_url):
    if not world_url.startswith("postgresql"):
        pytest.skip("a table lock that blocks readers exists on PostgreSQL only")
    client, keys, engine = api
    locker = engine.connect()
    locker.execute(text("SET lock_timeout = 0"))
    locker.execute(text("LOCK TABLE case_counts IN ACCESS EXCLUSIVE MODE"))
    app = create_app(settings_for(world_url, lock_timeout_ms=300))
    with TestClient(app) as busy_client:
        r = busy_client.post("/v1/queries", json=QUERY, headers=auth(keys["bob"]))
    locker.rollback()
    locker.close()
    assert r.status_code == 503 and r.json()["error"]["code"] == "busy", r.text
    assert _count(engine, Release) == 0 and _count(engine, LedgerEntry) == 0
    again = client.post("/v1/queries", json=QUERY, headers=auth(keys["bob"]))
    assert again.status_code == 200 and again.json()["cached"] is False


def test_another_confidence_keeps_the_policy_the_release_was_made_under(api, world_url):
    client, keys, _ = api
    first = client.post("/v1/queries", json=QUERY, headers=auth(keys["bob"])).json()
    lax = settings_for(world_url, suppression_threshold=1, sensitive_threshold=1)
    with TestClient(create_app(lax)) as later:
        again = later.post(
            "/v1/queries", json=QUERY | {"confidence": 0.9}, headers=auth(keys["alice"])
        ).json()
    assert again["release_id"] == first["release_id"] and again["confidence"] == 0.9
    assert [c["suppressed"] for c in again["cells"]] == [c["suppressed"] for c in first["cells"]]
    assert [c["count"] for c in again["cells"]] == [c["count"] for c in first["cells"]]
    assert (again["threshold"], again["sensitive_threshold"]) == (10, 20)


def test_a_failed_release_answers_as_failed_wherever_it_is_read(api, monkeypatch):
    from api import releases as pipeline

    client, keys, _ = api

    def broken(*args, **kwargs):
        raise RuntimeError("after the read")

    monkeypatch.setattr(pipeline.privacy, "release", broken)
    failed = client.post("/v1/queries", json=QUERY, headers=auth(keys["bob"]))
    assert failed.status_code == 500
    monkeypatch.undo()
    listed = client.get("/v1/releases", headers=auth(keys["bob"]))
    assert listed.status_code == 200 and [r["failed"] for r in listed.json()["items"]] == [True]
    admin = client.get("/v1/admin/ledger", headers=auth(keys["admin"])).json()["items"]
    release_id = admin[0]["release_id"]
    for suffix, params in (("", {}), ("", {"format": "csv"}), ("/metadata", {})):
        r = client.get(
            f"/v1/releases/{release_id}{suffix}", params=params, headers=auth(keys["bob"])
        )
        assert r.status_code == 500 and r.json()["error"]["code"] == "release_failed", r.text


def test_csv_carries_the_confidence_asked(api):
    client, keys, _ = api
    client.post("/v1/queries", json=QUERY, headers=auth(keys["bob"]))
    r = client.post(
        "/v1/queries?format=csv", json=QUERY | {"confidence": 0.6}, headers=auth(keys["alice"])
    )
    json_body = client.post(
        "/v1/queries", json=QUERY | {"confidence": 0.6}, headers=auth(keys["alice"])
    ).json()
    assert r.headers["x-amaan-confidence"] == "0.6"
    rows = list(csv.DictReader(io.StringIO(r.text)))
    shown = [c for c in json_body["cells"] if not c["suppressed"]]
    csv_shown = [row for row in rows if row["suppressed"] == "false"]
    assert [int(row["lower"]) for row in csv_shown] == [c["lower"] for c in shown]


@pytest.mark.parametrize("value", ["helpline\x00cases", "r_\x00", "ʜelpline-cases", "x" * 500])
def test_strings_that_cannot_be_ids_never_reach_the_database(api, value):
    client, keys, _ = api
    r = client.post("/v1/queries", json=QUERY | {"dataset": value}, headers=auth(keys["bob"]))
    assert r.status_code in (404, 422) and r.json()["error"]["code"] in (
        "not_found",
        "invalid_request",
    )
    got = client.get(f"/v1/releases/r_{quote(value)}", headers=auth(keys["bob"]))
    assert got.status_code == 404 and got.json()["error"]["code"] == "not_found"


def test_an_enormous_epsilon_is_refused_with_a_short_message(api):
    client, keys, _ = api
    r = client.post("/v1/queries", json=QUERY | {"epsilon": 1e308}, headers=auth(keys["bob"]))
    assert r.status_code == 422 and len(r.json()["error"]["message"]) < 200
