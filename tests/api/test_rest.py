"""The REST API end to end through the app, on SQLite and PostgreSQL."""

import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schema.access import AuditEntry, LedgerEntry
from schema.repositories import audit
from tests.api.conftest import auth

KEY_FIELDS = ("code", "label", "label_ur")
CELL_FIELDS = ("count", "lower", "upper", "suppressed", "reason", "total")
QUERY = {"dataset": "helpline-cases", "group_by": ["gender", "year"], "epsilon": 0.1}


def test_health_needs_no_key_and_everything_else_does(api):
    client, keys, _ = api
    assert client.get("/healthz").json() == {"status": "ok"}
    bodies = set()
    for headers in (
        {},
        auth("wrong"),
        auth(keys["revoked"]),
        auth(keys["expired"]),
        {"Authorization": keys["alice"]},
    ):
        r = client.get("/v1/me", headers=headers)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        bodies.add(r.text)
    assert len(bodies) == 1


def test_pandas_reads_a_release_in_one_line(api):
    client, keys, _ = api
    body = client.post("/v1/queries", json=QUERY, headers=auth(keys["alice"])).json()
    for name in ("epsilon", "epsilon_charged", "budget_remaining", "noise_scale"):
        assert isinstance(body[name], float), name
    frame = pd.json_normalize(body["cells"])
    per_dimension = [f"key.{d}.{f}" for d in ("gender", "year") for f in KEY_FIELDS]
    assert set(frame.columns) == {*per_dimension, *CELL_FIELDS}
    assert list(frame["key.gender.code"]) == ["F", "M", "GM", "U"]
    assert set(frame["key.year.code"]) == {"2024"}
    assert list(frame.loc[frame["key.gender.code"] == "F", "key.gender.label"]) == ["Women"]
    assert (
        str(frame["suppressed"].dtype) == "bool"
        and (frame["count"].isna() == frame["suppressed"]).all()
    )


def test_query_cache_and_release_by_id(api):
    client, keys, engine = api
    first = client.post("/v1/queries", json=QUERY, headers=auth(keys["alice"]))
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["cached"], body["epsilon_charged"], body["budget_remaining"]) == (
        False,
        0.1,
        0.15,
    )
    assert body["dataset_version"] == 1 and len([c for c in body["cells"]]) == 4
    again = client.post(
        "/v1/queries", json={**QUERY, "group_by": ["YEAR", "gender"]}, headers=auth(keys["bob"])
    )
    assert again.json()["cached"] is True and again.json()["epsilon_charged"] == 0
    assert again.json()["cells"] == body["cells"]
    stored = client.get(f"/v1/releases/{body['release_id']}", headers=auth(keys["bob"]))
    assert stored.status_code == 200 and stored.json()["cells"] == body["cells"]
    assert client.get("/v1/releases/r_nope", headers=auth(keys["bob"])).status_code == 404
    estimate = client.post("/v1/queries/estimate", json=QUERY, headers=auth(keys["bob"]))
    plain = {k: estimate.json()[k] for k in ("epsilon", "margin_of_error", "cells", "cached")}
    assert plain == {"epsilon": 0.1, "margin_of_error": 60, "cells": 4, "cached": True}
    assert estimate.json()["covered"] is False  # no summary published: cannot predict
    assert estimate.json()["predicted_suppressed"] is None
    with Session(engine) as s:
        assert audit.verify(s).ok
        actions = s.scalars(select(AuditEntry.action)).all()
        assert actions.count("estimate") == 1 and actions.count("query") == 2


def test_errors_are_clear_and_refusals_are_audited(api):
    client, keys, engine = api
    bad = client.post(
        "/v1/queries", json={**QUERY, "group_by": ["religion"]}, headers=auth(keys["alice"])
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_query"
    assert "complaint_type" in bad.json()["error"]["valid"]
    extra = client.post("/v1/queries", json={**QUERY, "colour": "red"}, headers=auth(keys["alice"]))
    assert extra.status_code == 422
    for group_by in (["gender"], ["channel"]):
        ok = client.post(
            "/v1/queries", json={**QUERY, "group_by": group_by}, headers=auth(keys["alice"])
        )
        assert ok.status_code == 200
    over = client.post(
        "/v1/queries", json={**QUERY, "group_by": ["platform"]}, headers=auth(keys["alice"])
    )
    assert over.status_code == 403
    assert over.json()["error"] | {"message": None} == {
        "code": "account_budget_exceeded",
        "message": None,
        "limit": "account_budget",
        "remaining": 0.05,
        "asked": 0.1,
    }
    with Session(engine) as s:
        outcomes = s.scalars(select(AuditEntry.outcome).order_by(AuditEntry.id)).all()
        assert "invalid_query" in outcomes and "account_budget_exceeded" in outcomes
        assert audit.verify(s).ok


def test_catalogue(api):
    client, keys, _ = api
    datasets = client.get("/v1/datasets", headers=auth(keys["alice"])).json()["items"]
    assert datasets[0]["slug"] == "helpline-cases"
    assert datasets[0]["versions"] == [
        {"number": 1, "first_month": "2024-01", "last_month": "2024-12"}
    ]
    assert datasets[0]["budget_remaining"] == 0.25
    dims = {d["name"]: d for d in client.get("/v1/dimensions", headers=auth(keys["alice"])).json()}
    gm = next(c for c in dims["gender"]["codes"] if c["code"] == "GM")
    assert gm["sensitive"] is True and gm["label_ur"]
    me = client.get("/v1/me", headers=auth(keys["alice"])).json()
    assert me["role"] == "researcher" and me["budgets"][0]["remaining"] == 0.25


def test_filters_by_label_or_code_are_one_release(api):
    """A label, in any case, is keyed as its code: REST and GraphQL, charged once."""
    client, keys, engine = api
    by_code = QUERY | {"filters": [{"dimension": "province", "values": ["PB", "KP"]}]}
    first = client.post("/v1/queries", json=by_code, headers=auth(keys["alice"])).json()
    assert first["cached"] is False
    labels = ["punjab", "KHYBER  pakhtunkhwa"]
    by_label = QUERY | {"filters": [{"dimension": "Province", "values": labels}]}
    again = client.post("/v1/queries", json=by_label, headers=auth(keys["bob"])).json()
    assert (again["cached"], again["release_id"]) == (True, first["release_id"])
    mutation = """mutation ($q: CountQueryInput!) { countCases(query: $q) { releaseId cached } }"""
    q = {
        "dataset": "helpline-cases",
        "groupBy": ["YEAR", "GENDER"],
        "epsilon": 0.1,
        "filters": [{"dimension": "PROVINCE", "values": ["Khyber Pakhtunkhwa", "Punjab"]}],
    }
    r = client.post(
        "/graphql", json={"query": mutation, "variables": {"q": q}}, headers=auth(keys["bob"])
    )
    assert r.json()["data"]["countCases"] == {"releaseId": first["release_id"], "cached": True}
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(LedgerEntry)) == 1


@pytest.mark.parametrize("value", ["Punjabi", "Punjab\u00a0Province", "Рunjab"])  # Cyrillic Р
def test_an_unknown_label_is_refused_with_the_valid_codes(api, value):
    client, keys, _ = api
    query = QUERY | {"filters": [{"dimension": "province", "values": [value]}]}
    r = client.post("/v1/queries", json=query, headers=auth(keys["alice"]))
    error = r.json()["error"]
    assert (r.status_code, error["field"], error["dimension"]) == (
        422,
        "filters.values",
        "province",
    )
    assert error["valid"][:2] == ["PB", "SD"] and "KP" in error["valid"]
