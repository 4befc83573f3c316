"""Shares, changes and rates on a count query, through REST and GraphQL: shape, refusals,
and nothing charged beyond the counts'."""

import logging

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import statistics
from schema.access import AuditEntry
from tests.api.conftest import auth

QUERY = {"dataset": "helpline-cases", "group_by": ["complaint_group", "gender"], "epsilon": 0.2}
# One line of complaint groups, each far above the threshold: every share is shown.
SHARE = QUERY | {
    "group_by": ["complaint_group", "year"],
    "statistic": {"kind": "share", "of": "complaint_group"},
}
CHANGE = {
    "dataset": "helpline-cases",
    "group_by": ["quarter", "gender"],
    "epsilon": 0.2,
    "statistic": {"kind": "change", "from": "2024-Q1", "to": "2024-Q2"},
}
RATE = {
    "dataset": "helpline-cases",
    "group_by": ["gender"],
    "period": {"from": "2024-01", "to": "2024-06"},
    "epsilon": 0.2,
    "statistic": {"kind": "rate", "per": "month"},
}
STAT_FIELDS = {"key", "value", "lower", "upper", "percent", "suppressed", "reason"}


def _post(client, keys, body, who="bob"):
    return client.post("/v1/queries", json=body, headers=auth(keys[who]))


def _cells(body):
    return {tuple(v["code"] for v in c["key"].values()): c for c in body["cells"]}


def test_a_share_of_gender_over_its_totals(shared_api):
    client, keys, _ = shared_api
    r = _post(client, keys, SHARE)
    assert r.status_code == 200, r.text
    body = r.json()
    stat = body["statistic"]
    assert {k: stat[k] for k in ("kind", "of", "from", "to", "per", "months")} == {
        "kind": "share",
        "of": "complaint_group",
        "from": None,
        "to": None,
        "per": None,
        "months": None,
    }
    assert stat["confidence"] == body["confidence"] == 0.95
    counts = {k: c for k, c in _cells(body).items() if not c["total"]}
    assert len(stat["cells"]) == len(counts)
    shown = 0
    for cell in stat["cells"]:
        assert set(cell) == STAT_FIELDS and list(cell["key"]) == ["complaint_group", "year"]
        key = tuple(v["code"] for v in cell["key"].values())
        line = [c for k, c in counts.items() if k[1] == key[1]]
        if counts[key]["suppressed"]:
            assert cell["suppressed"] and cell["reason"] == "count_suppressed"
        if cell["suppressed"]:
            assert cell["value"] is None and cell["lower"] is None and cell["upper"] is None
            assert cell["reason"] in ("count_suppressed", "total_suppressed")
            continue
        shown += 1
        if not any(c["suppressed"] for c in line):  # else its total holds hidden counts
            total = sum(c["count"] for c in line)
            assert cell["value"] == round(counts[key]["count"] / total, 4)
        assert 0 <= cell["lower"] <= cell["value"] <= cell["upper"] <= 1
        assert cell["percent"] is None and cell["reason"] is None
    assert shown == len(counts)


def test_the_statistic_costs_nothing_and_is_not_in_the_cache_key(shared_api):
    client, keys, _ = shared_api
    body = QUERY | {"group_by": ["province", "gender"], "epsilon": 0.15}
    first = _post(client, keys, body | {"statistic": {"kind": "share", "of": "province"}})
    assert first.status_code == 200 and first.json()["epsilon_charged"] == 0.15
    again = _post(client, keys, body | {"statistic": {"kind": "share", "of": "gender"}}).json()
    plain = _post(client, keys, body).json()
    assert again["cached"] and again["epsilon_charged"] == 0 and plain["epsilon_charged"] == 0
    assert again["release_id"] == plain["release_id"] == first.json()["release_id"]
    assert again["budget_remaining"] == plain["budget_remaining"]
    assert "statistic" not in plain and again["statistic"]["of"] == "gender"
    wide = _post(client, keys, body | {"statistic": {"kind": "share", "of": "gender"}}).json()
    narrow = body | {"confidence": 0.8, "statistic": {"kind": "share", "of": "gender"}}
    narrow = _post(client, keys, narrow).json()
    assert narrow["cached"] and narrow["statistic"]["confidence"] == 0.8
    for w, n in zip(wide["statistic"]["cells"], narrow["statistic"]["cells"], strict=True):
        assert (w["value"], w["suppressed"]) == (n["value"], n["suppressed"])
        if not w["suppressed"]:
            assert w["lower"] <= n["lower"] and n["upper"] <= w["upper"]
    assert {k: v for k, v in again.items() if k not in ("statistic", "cached")} == {
        k: v
        for k, v in first.json().items()
        if k not in ("statistic", "cached", "epsilon_charged", "budget_remaining")
    } | {"epsilon_charged": 0.0, "budget_remaining": plain["budget_remaining"]}


def test_a_change_between_quarters_in_cases_and_percent(shared_api):
    client, keys, _ = shared_api
    r = _post(client, keys, CHANGE)
    assert r.status_code == 200, r.text
    body = r.json()
    stat = body["statistic"]
    assert (stat["kind"], stat["from"], stat["to"]) == ("change", "2024-Q1", "2024-Q2")
    counts = _cells(body)
    assert len(stat["cells"]) == len({k[1] for k in counts if k[1] != "TOTAL"})
    for cell in stat["cells"]:
        assert list(cell["key"]) == ["gender"]
        g = cell["key"]["gender"]["code"]
        q1, q2 = counts[(g, "2024-Q1")], counts[(g, "2024-Q2")]
        if q1["suppressed"] or q2["suppressed"]:
            assert cell["suppressed"] and cell["reason"] == "count_suppressed"
            assert cell["percent"] is None
            continue
        assert isinstance(cell["value"], int) and cell["value"] == q2["count"] - q1["count"]
        assert cell["lower"] <= cell["value"] <= cell["upper"]
        pct = cell["percent"]
        assert pct["value"] == round(100 * (q2["count"] / q1["count"] - 1), 1)
        assert pct["lower"] <= pct["value"] and (
            pct["upper"] is None or pct["value"] <= pct["upper"]
        )


def test_a_rate_per_month_over_the_period(shared_api):
    client, keys, _ = shared_api
    body = _post(client, keys, RATE).json()
    stat = body["statistic"]
    assert (stat["kind"], stat["per"], stat["months"]) == ("rate", "month", 6)
    counts = _cells(body)
    for cell in stat["cells"]:
        count = counts[(cell["key"]["gender"]["code"],)]
        if count["suppressed"]:
            assert cell["suppressed"]
            continue
        assert cell["value"] == round(count["count"] / 6, 1)
        assert cell["lower"] <= count["lower"] / 6 + 0.1 and cell["upper"] >= count["upper"] / 6
    by_month = RATE | {"group_by": ["month", "gender"]}
    stat = _post(client, keys, by_month).json()["statistic"]
    assert [list(c["key"]) for c in stat["cells"]] == [["gender"]] * len(stat["cells"])


REFUSALS = [
    ({"kind": "ratio"}, "statistic.kind"),
    ({"kind": "share"}, "statistic.of"),
    ({"kind": "share", "of": "province"}, "statistic.of"),
    ({"kind": "share", "of": "gender", "per": "month"}, "statistic.per"),
    ({"kind": "change", "from": "2024-Q1", "to": "2024-Q2"}, "statistic.kind"),
    ({"kind": "rate", "per": "week"}, "statistic.per"),
]
CHANGE_REFUSALS = [
    ({"from": "2023-Q4", "to": "2024-Q1"}, "statistic.from"),
    ({"from": "2024-Q2", "to": "2024-Q1"}, "statistic.to"),
    ({"from": "2024-Q1", "to": "2024-05"}, "statistic.to"),
    ({"from": "2024-Q1", "to": "2024"}, "statistic.to"),
    ({"from": "spring", "to": "2024-Q2"}, "statistic.from"),
]


@pytest.mark.parametrize(("statistic", "field"), REFUSALS)
def test_a_bad_statistic_is_refused_before_anything_is_read(api, statistic, field):
    client, keys, engine = api
    r = _post(client, keys, QUERY | {"statistic": statistic})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field
    assert field.split(".")[1] in r.json()["error"]["message"]
    with Session(engine) as s:
        outcomes = s.scalars(select(AuditEntry.outcome).where(AuditEntry.action == "query")).all()
    assert outcomes == ["invalid_query"]
    assert client.get("/v1/me", headers=auth(keys["bob"])).json()["budgets"][0]["spent"] == 0


def test_refusals_name_the_valid_values(shared_api):
    client, keys, _ = shared_api
    error = _post(client, keys, QUERY | {"statistic": {"kind": "ratio"}}).json()["error"]
    assert error["valid"] == ["share", "change", "rate"]
    error = _post(client, keys, QUERY | {"statistic": {"kind": "share", "of": "year"}}).json()
    assert error["error"]["valid"] == ["complaint_group", "gender"]
    for change, field in CHANGE_REFUSALS:
        body = CHANGE | {"statistic": {"kind": "change"} | change}
        error = _post(client, keys, body).json()["error"]
        assert error["field"] == field, (change, error)
    extra = _post(client, keys, QUERY | {"statistic": {"kind": "share", "over": "x"}})
    assert extra.status_code == 422
    csv = client.post(
        "/v1/queries", json=SHARE, params={"format": "csv"}, headers=auth(keys["bob"])
    )
    assert csv.status_code == 422 and csv.json()["error"]["field"] == "statistic"
    estimate = client.post(
        "/v1/queries/estimate",
        json=QUERY | {"statistic": {"kind": "rate", "per": "day"}},
        headers=auth(keys["bob"]),
    )
    assert estimate.status_code == 422 and estimate.json()["error"]["field"] == "statistic.per"


GQL = """mutation ($q: CountQueryInput!) { countCases(query: $q) { releaseId epsilonCharged
  cells { key { dimension code } count suppressed total }
  statistic { kind of from to per months confidence
    cells { key { dimension code } value lower upper suppressed reason
      percent { value lower upper } } } } }"""


def test_graphql_asks_the_same_statistic(shared_api):
    client, keys, _ = shared_api
    q = {
        "dataset": "helpline-cases",
        "groupBy": ["QUARTER", "GENDER"],
        "epsilon": 0.2,
        "statistic": {"kind": "CHANGE", "from": "2024-Q1", "to": "2024-Q2"},
    }
    r = client.post(
        "/graphql", json={"query": GQL, "variables": {"q": q}}, headers=auth(keys["bob"])
    )
    data = r.json()["data"]["countCases"]
    rest = _post(client, keys, CHANGE).json()
    assert data["releaseId"] == rest["release_id"]
    stat = data["statistic"]
    assert (stat["kind"], stat["from"], stat["to"]) == ("CHANGE", "2024-Q1", "2024-Q2")
    assert [c["value"] for c in stat["cells"]] == [c["value"] for c in rest["statistic"]["cells"]]
    assert [c["percent"] for c in stat["cells"]] == [
        c["percent"] for c in rest["statistic"]["cells"]
    ]
    assert stat["cells"][0]["key"][0]["dimension"] == "gender"
    bad = q | {"statistic": {"kind": "SHARE", "of": "PROVINCE"}}
    r = client.post(
        "/graphql", json={"query": GQL, "variables": {"q": bad}}, headers=auth(keys["bob"])
    )
    error = r.json()["errors"][0]
    assert error["extensions"]["code"] == "invalid_query"
    assert error["extensions"]["field"] == "statistic.of"
    r = client.post(
        "/graphql",
        json={"query": GQL, "variables": {"q": q | {"statistic": {"kind": "RATIO"}}}},
        headers=auth(keys["bob"]),
    )
    assert "RATIO" in r.json()["errors"][0]["message"]


def test_a_change_refused_names_the_periods_it_could_compare(shared_api):
    client, keys, _ = shared_api
    body = CHANGE | {"period": {"from": "2024-02", "to": "2024-12"}}
    error = _post(client, keys, body).json()["error"]
    assert error["field"] == "statistic.from" and error["valid"] == [
        "2024-Q2",
        "2024-Q3",
        "2024-Q4",
    ]
    body = CHANGE | {"group_by": ["year"], "statistic": CHANGE["statistic"]}
    error = _post(client, keys, body).json()["error"]
    assert error["field"] == "statistic.from" and error["valid"] == ["2024"]


def test_a_period_beyond_the_coverage_is_refused_as_without_a_statistic(shared_api):
    client, keys, _ = shared_api
    body = RATE | {"period": {"from": "1900-01", "to": "2999-12"}}
    error = _post(client, keys, body).json()["error"]
    plain = {k: v for k, v in body.items() if k != "statistic"}
    assert error == _post(client, keys, plain).json()["error"] and error["field"] == "period"


def test_a_failed_computation_suppresses_every_cell_and_keeps_the_charge(api, monkeypatch, caplog):
    """Defence in depth: no input makes the computation raise (tests/privacy/
    test_statistics_total.py); should a bug make it, the charged release is still answered."""
    client, keys, engine = api

    def broken(*args):
        raise ValueError("a bug holding 4321")

    monkeypatch.setattr(statistics, "figures_of", broken)
    caplog.set_level(logging.INFO)
    r = _post(client, keys, SHARE)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["epsilon_charged"] == 0.2
    cells = body["statistic"]["cells"]
    assert len(cells) == len([c for c in body["cells"] if not c["total"]]) > 0
    for cell in cells:
        assert cell["suppressed"] and cell["reason"] == "not_computable"
        assert (cell["value"], cell["lower"], cell["upper"], cell["percent"]) == (None,) * 4
        assert list(cell["key"]) == ["complaint_group", "year"]
    assert "ValueError" in caplog.text and "4321" not in caplog.text
    me = client.get("/v1/me", headers=auth(keys["bob"])).json()
    assert me["budgets"][0]["spent"] == 0.2
    with Session(engine) as s:
        outcomes = s.scalars(select(AuditEntry.outcome).where(AuditEntry.action == "query")).all()
    assert outcomes == ["released"]
