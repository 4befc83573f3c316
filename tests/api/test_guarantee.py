"""The findings of the attack on the running service, each as a test that failed before its fix:
an empty match is answered like any other, edge inputs are refused naming the field and range
the same way by REST and GraphQL, and a repeat at another confidence buys no fresh noise."""

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schema.access import AuditEntry, LedgerEntry
from tests.api.conftest import auth

COUNT = """mutation ($q: CountQueryInput!) {
  countCases(query: $q) { releaseId cached epsilonCharged confidence
    cells { key { code } count lower upper suppressed } } }"""
ESTIMATE = "query ($q: CountQueryInput!) { estimate(query: $q) { epsilon cells } }"
NOBODY = [  # a combination no synthetic case has
    {"dimension": "gender", "values": ["GM"]},
    {"dimension": "age_band", "values": ["U18"]},
    {"dimension": "province", "values": ["GB"]},
    {"dimension": "month", "values": ["2024-02"]},
]


def rest(client, key, **query):
    body = {"dataset": "helpline-cases", "group_by": [], "epsilon": 0.05} | query
    return client.post("/v1/queries", json=body, headers=auth(key))


def graphql(client, key, document=COUNT, **query):
    q = {"dataset": "helpline-cases", "groupBy": [], "epsilon": 0.05} | query
    r = client.post("/graphql", json={"query": document, "variables": {"q": q}}, headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()


def _spent(engine):
    with Session(engine) as s:
        return s.scalar(select(func.coalesce(func.sum(LedgerEntry.epsilon_micro), 0)))


def test_a_filter_that_matches_no_case_is_released_charged_and_audited(api):
    """Before: SUM over no rows was NULL, the service failed with a 500 that was neither
    charged nor audited, and one matching case gave a 200: an existence oracle."""
    client, keys, engine = api
    r = rest(client, keys["bob"], filters=NOBODY)
    assert r.status_code == 200, r.text
    (cell,) = r.json()["cells"]  # one cell, the total of what matches, however many
    assert cell["key"] == {} and cell["total"] is False
    gql_filters = [{"dimension": f["dimension"].upper(), "values": f["values"]} for f in NOBODY]
    data = graphql(client, keys["bob"], filters=gql_filters, epsilon=0.06)
    assert "errors" not in data and data["data"]["countCases"]["epsilonCharged"] == 0.06
    assert _spent(engine) == 110_000
    with Session(engine) as s:
        outcomes = s.scalars(
            select(AuditEntry.outcome).where(AuditEntry.action == "query").order_by(AuditEntry.id)
        ).all()
    assert outcomes == ["released", "released"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"epsilon": None, "margin_of_error": 1e19}, "margin_of_error"),
        ({"epsilon": None, "margin_of_error": 0.5}, "margin_of_error"),
        ({"confidence": 0}, "confidence"),
        ({"confidence": 1}, "confidence"),
        ({"epsilon": 0}, "epsilon"),
        ({"epsilon": 0.6}, "epsilon"),
        ({"period": {"from": "2030-01"}}, "period"),
        ({"period": {"to": "2030-01"}}, "period"),
        ({"period": {"from": "2023-12"}}, "period"),
        ({"period": {"from": "٢٠١٠-01"}}, "period.from"),
        ({"period": {"from": "2024-01", "to": "9999-01"}}, "period"),
        ({"period": {"from": "2024-05", "to": "2024-01"}}, "period"),  # was bad_request
        ({"filters": [{"dimension": "gender", "values": ["ＧＭ"]}]}, "filters.values"),
        ({"filters": [{"dimension": "month", "values": ["2023-05"]}]}, "filters.values"),
    ],
)
def test_edge_inputs_are_refused_naming_the_field_the_same_by_rest_and_graphql(api, query, field):
    client, keys, engine = api
    r = rest(client, keys["bob"], **query)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] in ("invalid_query", "invalid_epsilon", "epsilon_above_maximum")
    assert error["field"] == field, error
    graphql_query = dict(query)
    if "margin_of_error" in graphql_query:
        graphql_query["marginOfError"] = graphql_query.pop("margin_of_error")
    if "filters" in graphql_query:
        graphql_query["filters"] = [
            {"dimension": f["dimension"].upper(), "values": f["values"]}
            for f in graphql_query["filters"]
        ]
    for document in (COUNT, ESTIMATE):
        data = graphql(client, keys["bob"], document, **graphql_query)
        assert data["data"] is None
        (gql_error,) = data["errors"]
        assert gql_error["extensions"]["code"] == error["code"]
        assert gql_error["extensions"]["field"] == field
        assert gql_error["message"] == error["message"]
    assert _spent(engine) == 0
    with Session(engine) as s:  # every refusal is audited, from either interface
        refusals = s.scalars(
            select(AuditEntry.outcome).where(AuditEntry.outcome == error["code"])
        ).all()
    assert len(refusals) == 3


def test_another_confidence_is_the_same_release_with_other_intervals_for_free(api):
    client, keys, engine = api
    first = rest(client, keys["bob"], group_by=["gender"], epsilon=0.1).json()
    again = rest(client, keys["alice"], group_by=["gender"], epsilon=0.1, confidence=0.8).json()
    assert again["cached"] and again["release_id"] == first["release_id"]
    assert again["epsilon_charged"] == 0 and again["confidence"] == 0.8
    assert [c["count"] for c in again["cells"]] == [c["count"] for c in first["cells"]]
    assert again["margin_of_error"] < first["margin_of_error"]
    shown = [(a, b) for a, b in zip(first["cells"], again["cells"], strict=True) if a["count"]]
    assert shown and all(b["upper"] - b["lower"] < a["upper"] - a["lower"] for a, b in shown)
    data = graphql(client, keys["alice"], groupBy=["GENDER"], epsilon=0.1, confidence=0.99)
    release = data["data"]["countCases"]
    assert release["cached"] and release["releaseId"] == first["release_id"]
    assert release["confidence"] == 0.99
    assert _spent(engine) == 100_000


def test_a_margin_of_error_is_keyed_by_the_epsilon_it_needs(api):
    client, keys, _ = api
    by_margin = rest(client, keys["bob"], group_by=["gender"], epsilon=None, margin_of_error=40)
    assert by_margin.status_code == 200, by_margin.text
    charged = by_margin.json()["epsilon_charged"]
    by_epsilon = rest(client, keys["alice"], group_by=["gender"], epsilon=float(charged)).json()
    assert by_epsilon["cached"] and by_epsilon["release_id"] == by_margin.json()["release_id"]
    assert by_margin.json()["margin_of_error"] <= 40


def test_a_failure_after_the_read_is_charged_audited_and_repeated(api, monkeypatch):
    """Code after the read is total; should it fail anyway, the failure costs its ε, is in
    the audit log, and every repeat gets the same answer (no free retry for fresh noise)."""
    from api import releases as pipeline

    client, keys, engine = api

    def broken(*args, **kwargs):
        raise RuntimeError("a bug after the data was read")

    monkeypatch.setattr(pipeline.privacy, "release", broken)
    r = rest(client, keys["bob"], group_by=["gender"], epsilon=0.1)
    assert r.status_code == 500 and r.json()["error"]["code"] == "release_failed", r.text
    assert _spent(engine) == 100_000
    monkeypatch.undo()  # a repeat does not compute again, fixed or not
    again = rest(client, keys["alice"], group_by=["gender"], epsilon=0.1)
    assert again.status_code == 500 and again.json() == r.json()
    data = graphql(client, keys["alice"], groupBy=["GENDER"], epsilon=0.1)
    assert data["errors"][0]["extensions"]["code"] == "release_failed"
    assert _spent(engine) == 100_000
    with Session(engine) as s:
        outcomes = s.scalars(
            select(AuditEntry.outcome).where(AuditEntry.action == "query").order_by(AuditEntry.id)
        ).all()
    assert outcomes == ["failed", "cache_hit", "cache_hit"]
    verified = client.get("/v1/admin/audit/verify", headers=auth(keys["admin"])).json()
    assert verified["ok"], verified  # the failed release's charge is in the chained log


def test_refusals_are_audited_the_same_from_the_api_and_the_staff_page(api):
    from tests.api.staff_page.test_sessions import csrf_of, sign_in

    client, keys, engine = api
    bad = {"dataset": "helpline-cases", "group_by": ["gender"], "epsilon": 9}
    r = client.post(
        "/v1/admin/releases",
        json={"title": "T", "description": "", "query": bad, "audience": ["all-partners"]},
        headers=auth(keys["admin"]),
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "epsilon_above_maximum"
    assert r.json()["error"]["requested"] == 9  # ε in details as JSON numbers, like the bodies
    assert isinstance(r.json()["error"]["maximum"], float)
    sign_in(client, keys["admin"])
    form = {
        "title": "T",
        "dataset": "helpline-cases",
        "group_by": ["gender"],
        "measure": "epsilon",
        "amount": "9",
        "audience": ["all-partners"],
        "csrf": csrf_of(client),
    }
    for step in ("/admin/releases/estimate", "/admin/releases"):
        page = client.post(step, data=form)
        assert page.status_code == 422 and "above the maximum per query" in page.text
    with Session(engine) as s:
        refusals = s.execute(
            select(AuditEntry.action, AuditEntry.outcome).where(
                AuditEntry.outcome == "epsilon_above_maximum"
            )
        ).all()
    assert sorted(refusals) == [
        ("estimate", "epsilon_above_maximum"),
        ("publication", "epsilon_above_maximum"),
        ("publication", "epsilon_above_maximum"),
    ]
    assert _spent(engine) == 0
