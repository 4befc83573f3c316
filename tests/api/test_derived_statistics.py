"""Shares, changes and rates of a query a summary covers: answered from the summary, free,
suppressed as a direct release's; ``source: direct`` still buys the counts (issue 12)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.app import create_app
from schema.access import AuditEntry
from schema.db import make_engine
from tests.api.conftest import auth, settings_for
from tests.api.test_graphql import gql

SLUG = "helpline-cases"
SHARE = {
    "dataset": SLUG,
    "group_by": ["gender"],
    "epsilon": 0.1,
    "statistic": {"kind": "share", "of": "gender"},
}
CHANGE = SHARE | {
    "group_by": ["quarter"],
    "statistic": {"kind": "change", "from": "2024-Q1", "to": "2024-Q2"},
}
RATE = SHARE | {"period": {"from": "2024-01", "to": "2024-06"}}
RATE |= {"statistic": {"kind": "rate", "per": "month"}}


@pytest.fixture
def unsuppressed(world_url, world_keys):
    """The app with thresholds of 1: every cell shown, so figures can be compared exactly."""
    engine = make_engine(world_url)
    settings = settings_for(world_url, suppression_threshold=1, sensitive_threshold=1)
    with TestClient(create_app(settings)) as client:
        yield client, world_keys, engine
    engine.dispose()


def _publish(client, keys):
    r = client.post(
        "/v1/admin/summaries", json={"dataset": SLUG, "epsilon": 1}, headers=auth(keys["admin"])
    )
    assert r.status_code == 201, r.text
    return r.json()["release_id"]


def _post(client, keys, body):
    return client.post("/v1/queries", json=body, headers=auth(keys["bob"]))


def _spent(client, keys):
    return client.get("/v1/me", headers=auth(keys["bob"])).json()["budgets"][0]["spent"]


def test_a_covered_statistic_is_derived_free_and_agrees_with_its_counts(unsuppressed):
    client, keys, engine = unsuppressed
    summary = _publish(client, keys)
    before = _spent(client, keys)
    body = SHARE | {"group_by": ["complaint_group"], "source": "summary"}
    share = _post(client, keys, body | {"statistic": {"kind": "share", "of": "complaint_group"}})
    share = share.json()
    assert share["derived_from"] == summary and share["epsilon_charged"] == 0
    counts = [c["count"] for c in share["cells"]]
    assert all(counts)  # every group has cases: nothing suppressed
    for cell, count in zip(share["statistic"]["cells"], counts, strict=True):
        assert cell["value"] == round(count / sum(counts), 4) and not cell["suppressed"]
        assert 0 <= cell["lower"] <= cell["value"] <= cell["upper"] <= 1
        assert cell["upper"] - cell["lower"] < 0.2
    change = _post(client, keys, CHANGE).json()
    assert change["derived_from"] == summary
    (cell,) = change["statistic"]["cells"]
    q1, q2 = (c["count"] for c in change["cells"] if c["key"]["quarter"]["code"] < "2024-Q3")
    assert cell["key"] == {} and cell["value"] == q2 - q1
    assert cell["lower"] <= cell["value"] <= cell["upper"]
    assert cell["percent"]["value"] == round(100 * (q2 / q1 - 1), 1)
    rate = _post(client, keys, RATE).json()
    assert rate["derived_from"] == summary and rate["statistic"]["months"] == 6
    for cell, count in zip(rate["statistic"]["cells"], rate["cells"], strict=True):
        if count["suppressed"]:  # at a threshold of 1: a gender shown as 0
            assert cell["reason"] == "count_suppressed"
            continue
        assert cell["value"] == round(count["count"] / 6, 1)
        assert cell["lower"] <= cell["value"] <= cell["upper"]
    assert _spent(client, keys) == before
    direct = _post(client, keys, SHARE | {"source": "direct"}).json()
    derived = _post(client, keys, SHARE).json()
    assert direct.get("derived_from") is None and direct["epsilon_charged"] == 0.1
    assert derived["derived_from"] == summary and derived["epsilon_charged"] == 0
    assert [c["key"] for c in direct["statistic"]["cells"]] == [
        c["key"] for c in derived["statistic"]["cells"]
    ]
    with Session(engine) as s:
        outcomes = s.scalars(select(AuditEntry.outcome).where(AuditEntry.action == "query")).all()
    assert outcomes.count("derived") == 4 and outcomes.count("released") == 1


def test_a_derived_share_is_suppressed_as_a_direct_one(api):
    client, keys, _ = api
    summary = _publish(client, keys)
    body = SHARE | {"group_by": ["gender", "age_band"], "source": "summary"}
    body["statistic"] = {"kind": "share", "of": "gender"}
    out = _post(client, keys, body).json()
    assert out["derived_from"] == summary and out["epsilon_charged"] == 0

    def key(c):
        return c["key"]["gender"]["code"], c["key"]["age_band"]["code"]

    counts = {key(c): c for c in out["cells"]}
    stat = out["statistic"]["cells"]
    assert len(stat) == len(counts)
    reasons = set()
    for cell in stat:
        line = [c for k, c in counts.items() if k[1] == key(cell)[1]]
        if counts[key(cell)]["suppressed"]:
            assert cell["reason"] == "count_suppressed"
        elif sum(c["suppressed"] for c in line) == 1:  # its total would give that one back
            assert cell["reason"] == "total_suppressed"
        if cell["suppressed"]:
            assert (cell["value"], cell["lower"], cell["upper"]) == (None, None, None)
            reasons.add(cell["reason"])
        else:
            assert 0 <= cell["lower"] <= cell["value"] <= cell["upper"] <= 1
    assert "count_suppressed" in reasons  # the test world is sparse by age


def test_an_uncovered_statistic_from_the_summary_is_refused_on_source(api):
    client, keys, _ = api
    _publish(client, keys)
    body = SHARE | {"group_by": ["gender", "city"], "source": "summary"}
    r = _post(client, keys, body)
    assert r.status_code == 422 and r.json()["error"]["field"] == "source"
    plain = _post(client, keys, SHARE | {"group_by": ["gender", "city"]}).json()
    assert plain.get("derived_from") is None and plain["epsilon_charged"] == 0.1
    assert plain["statistic"]["kind"] == "share"


GQL = """mutation ($q: CountQueryInput!) { countCases(query: $q) { derivedFrom epsilonCharged
  statistic { kind cells { key { code } value lower upper suppressed reason } } } }"""


def test_graphql_derives_the_same_statistic(unsuppressed):
    client, keys, _ = unsuppressed
    summary = _publish(client, keys)
    q = {"dataset": SLUG, "groupBy": ["GENDER"], "epsilon": 0.1}
    q["statistic"] = {"kind": "SHARE", "of": "GENDER"}
    data = gql(client, keys["bob"], GQL, {"q": q}).json()["data"]["countCases"]
    assert (data["derivedFrom"], data["epsilonCharged"]) == (summary, 0)
    rest = _post(client, keys, SHARE).json()["statistic"]["cells"]
    assert [(c["value"], c["lower"], c["upper"]) for c in data["statistic"]["cells"]] == [
        (c["value"], c["lower"], c["upper"]) for c in rest
    ]
