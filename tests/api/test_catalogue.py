"""One catalogue behind REST and GraphQL: the same datasets, versions, coverage, privacy
settings, dimensions with codes and labels, caller with budgets and visible releases, field
for field, for every role; time codes from the declared coverage; one statement a listing."""

import re
from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from privacy import Epsilon
from schema.models import Dataset, DatasetVersion
from schema.repositories import accounts
from schema.repositories.datasets import get_or_create_dataset
from tests.api.conftest import auth

CATALOGUE = """query ($dataset: String, $version: Int) {
  datasets { items { slug title versions { number firstMonth lastMonth } maxCasesPerPerson
    maxVulnerableGroups maxReferrals maxEpsilonPerQuery budgetRemaining } next }
  dimensions(dataset: $dataset, version: $version) { name time rollupOf multiValued
    codes { code label labelUr sensitive } }
  me { id name organisation role budgets { dataset limit spent remaining } }
  releases { items { releaseId kind title description dataset datasetVersion groupBy epsilon
    rounding margins failed releasedAt createdAt } next }
}"""
EPSILON_FIELDS = {"epsilon", "limit", "spent", "remaining", "budget_remaining"}
EPSILON_FIELDS |= {"max_epsilon_per_query"}
QUERY = {"dataset": "helpline-cases", "group_by": ["gender", "year"], "epsilon": 0.1}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _plain(value, key=None):
    """A response with snake_case keys, ε as exact decimals and times as datetimes. ε is a
    JSON number in both interfaces, exact to six decimals."""
    if isinstance(value, dict):
        return {_snake(k): _plain(v, _snake(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, key) for v in value]
    if key in EPSILON_FIELDS and value is not None:
        assert isinstance(value, float), (key, value)
        return Decimal(repr(value))
    if key in ("released_at", "created_at"):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


def _rest_shape(data):
    """GraphQL's answer in REST's shape: enum names as dimension names, the privacy
    settings nested, the old ``createdAt`` checked against ``releasedAt`` and dropped."""
    lower = str.lower
    assert data["datasets"].pop("next") is None
    data["datasets"] = data["datasets"]["items"]
    for d in data["datasets"]:
        d["privacy"] = {
            "max_cases_per_person": d.pop("max_cases_per_person"),
            "max_values_per_case": {
                "vulnerable_group": d.pop("max_vulnerable_groups"),
                "referral": d.pop("max_referrals"),
            },
            "max_epsilon_per_query": d.pop("max_epsilon_per_query"),
        }
    for d in data["dimensions"]:
        d["name"] = lower(d["name"])
        d["rollup_of"] = d["rollup_of"] and lower(d["rollup_of"])
    assert data["releases"].pop("next") is None
    data["releases"] = data["releases"]["items"]
    for r in data["releases"]:
        r["group_by"] = [lower(g) for g in r["group_by"]]
        assert r.pop("created_at") == r["released_at"]
    return data


def _both(client, key, params=None):
    rest = {
        name: client.get(
            f"/v1/{name}", params=params if name == "dimensions" else None, headers=auth(key)
        )
        for name in ("datasets", "dimensions", "me", "releases")
    }
    for name, r in rest.items():
        assert r.status_code == 200, (name, r.text)
    variables = {k: (int(v) if k == "version" else v) for k, v in (params or {}).items()}
    r = client.post(
        "/graphql", json={"query": CATALOGUE, "variables": variables}, headers=auth(key)
    )
    assert r.status_code == 200 and "errors" not in r.json(), r.text
    paged = ("datasets", "releases")
    assert all(rest[name].json()["next"] is None for name in paged)
    listed = {k: v.json() for k, v in rest.items()} | {
        name: rest[name].json()["items"] for name in paged
    }
    return _plain(listed), _rest_shape(_plain(r.json()["data"]))


def _world(client, keys, engine):
    """Releases of each kind, a second version of the dataset with a wider declared
    coverage, and a second dataset granted to bob only."""
    assert client.post("/v1/queries", json=QUERY, headers=auth(keys["alice"])).status_code == 200
    extract = {
        "title": "By gender",
        "description": "d",
        "query": QUERY | {"epsilon": 0.2},
        "audience": ["all-partners"],
    }
    r = client.post("/v1/admin/releases", json=extract, headers=auth(keys["admin"]))
    assert r.status_code == 201, r.text
    with Session(engine) as s, s.begin():
        first = s.scalars(select(Dataset)).one()
        v1 = s.scalars(select(DatasetVersion)).one()
        s.add(
            DatasetVersion(
                dataset_id=first.id,
                number=2,
                codelist_version=v1.codelist_version,
                first_month="2024-01",
                last_month="2025-02",
            )
        )
        other = get_or_create_dataset(
            s, "other-helpline", max_cases_per_person=3, max_vulnerable_groups=1, max_referrals=2
        )
        s.add(
            DatasetVersion(
                dataset_id=other.id,
                number=1,
                codelist_version=v1.codelist_version,
                first_month="2023-11",
                last_month="2024-02",
            )
        )
        bob = accounts.authenticate(s, keys["bob"])[0]
        accounts.grant(s, bob.id, other.id)
        accounts.set_account_budget(s, bob.id, other.id, 1_234_567)


@pytest.mark.parametrize("params", [None, {"dataset": "helpline-cases", "version": "1"}])
def test_rest_and_graphql_give_the_same_catalogue(api, params):
    client, keys, engine = api
    _world(client, keys, engine)
    for name in ("alice", "partner", "partner_budget", "admin"):
        rest, graphql = _both(client, keys[name], params)
        assert rest == graphql, name
    rest, _ = _both(client, keys["alice"], params)
    months = next(d for d in rest["dimensions"] if d["name"] == "month")["codes"]
    newest = params is None  # the default is the newest version, declared to 2025-02
    assert [c["code"] for c in months][-1] == ("2025-02" if newest else "2024-12")
    assert months[0] == {
        "code": "2024-01",
        "label": "2024-01",
        "label_ur": "2024-01",
        "sensitive": False,
    }
    assert [d["name"] for d in rest["dimensions"]][:4] == [
        "month",
        "quarter",
        "year",
        "complaint_type",
    ]
    assert rest["me"]["budgets"] == [
        {
            "dataset": "helpline-cases",
            "limit": Decimal("0.25"),
            "spent": Decimal("0.1"),
            "remaining": Decimal("0.15"),
        }
    ]
    assert [r["kind"] for r in rest["releases"]] == ["query"]
    partner, _ = _both(client, keys["partner"], params)
    assert [(r["kind"], r["title"], r["epsilon"], r["rounding"]) for r in partner["releases"]] == [
        ("publication", "By gender", Decimal("0.2"), 5)
    ]


def test_several_datasets_and_the_time_codes_of_each(api):
    client, keys, engine = api
    _world(client, keys, engine)
    r = client.get("/v1/dimensions", headers=auth(keys["bob"]))
    assert r.status_code == 422 and r.json()["error"]["field"] == "dataset"
    assert r.json()["error"]["valid"] == ["helpline-cases", "other-helpline"]
    rest, graphql = _both(client, keys["bob"], {"dataset": "Other-Helpline"})
    assert rest == graphql
    codes = {d["name"]: [c["code"] for c in d["codes"]] for d in rest["dimensions"]}
    assert codes["month"] == ["2023-11", "2023-12", "2024-01", "2024-02"]
    assert codes["quarter"] == ["2023-Q4", "2024-Q1"] and codes["year"] == ["2023", "2024"]
    other = rest["datasets"][1]
    assert other["privacy"]["max_values_per_case"] == {"vulnerable_group": 1, "referral": 2}
    assert other["budget_remaining"] == Decimal("1.234567")  # six decimals, exact in both
    assert [v["number"] for v in rest["datasets"][0]["versions"]] == [1, 2]


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"version": "0"}, 422, "invalid_request"),
        ({"version": "１"}, 422, "invalid_request"),  # ASCII digits only
        ({"version": "1e3"}, 422, "invalid_request"),
        ({"dataset": "x" * 65}, 422, "invalid_request"),
        ({"version": "3"}, 404, "not_found"),
        ({"dataset": "no-such-dataset"}, 404, "not_found"),
    ],
)
def test_bad_choices_of_dataset_or_version_are_named(api, params, status, code):
    client, keys, _ = api
    r = client.get("/v1/dimensions", params=params, headers=auth(keys["alice"]))
    assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text


def test_graphql_refuses_the_same_choices(api):
    client, keys, _ = api
    for variables, code in (
        ({"version": 0}, "invalid_query"),
        ({"dataset": "x" * 65}, "invalid_query"),
        ({"version": 3}, "not_found"),
        ({"dataset": "nope"}, "not_found"),
    ):
        r = client.post(
            "/graphql",
            json={"query": CATALOGUE, "variables": variables},
            headers=auth(keys["alice"]),
        )
        assert r.json()["errors"][0]["extensions"]["code"] == code, r.text


def test_a_failed_release_is_listed_not_a_server_error(api, monkeypatch):
    """Before: ``GET /v1/releases`` read each release's body, and a failed release has none
    (a 500 for its owner from then on); GraphQL listed it. Now both list it as failed."""
    from api import releases as pipeline

    client, keys, _ = api
    monkeypatch.setattr(pipeline.privacy, "release", lambda *a, **k: 1 / 0)
    r = client.post("/v1/queries", json=QUERY, headers=auth(keys["alice"]))
    assert r.json()["error"]["code"] == "release_failed"
    rest, graphql = _both(client, keys["alice"])
    assert rest == graphql
    assert [(r["failed"], r["epsilon"], r["group_by"]) for r in rest["releases"]] == [
        (True, Decimal("0.1"), ["gender", "year"])
    ]


def test_each_listing_is_one_statement(api):
    client, keys, engine = api
    _world(client, keys, engine)
    app_engine = client.app.state.sessions.kw["bind"]
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(app_engine, "before_cursor_execute", record)
    try:
        for path in ("/v1/datasets", "/v1/me"):
            seen.clear()
            assert client.get(path, headers=auth(keys["bob"])).status_code == 200
            # (A key from the worker's cache is checked first, with the budgets: not counted.)
            listing = [s for s in seen if "cache_generation" not in s]
            touching = [s for s in listing if "account_budgets" in s or "dataset_versions" in s]
            assert len(touching) == 1, (path, touching)
        seen.clear()
        query = (
            "{ datasets { items { slug versions { number } budgetRemaining } }"
            " me { budgets { limit } } }"
        )
        r = client.post("/graphql", json={"query": query}, headers=auth(keys["bob"]))
        assert len(r.json()["data"]["datasets"]["items"]) == 2
        listing = [s for s in seen if "cache_generation" not in s]
        touching = [s for s in listing if "account_budgets" in s or "dataset_versions" in s]
        assert len(touching) == 2  # one for the datasets, one for the budgets
    finally:
        event.remove(app_engine, "before_cursor_execute", record)


@given(st.integers(0, 10**15 - 1))
def test_epsilon_as_a_float_is_the_decimal_string(micro):
    """ε is integer micro-ε: the float GraphQL sends (JSON prints the shortest round trip)
    is the same six-decimal value as REST's string, for every ε below 10⁹ (15 digits)."""
    epsilon = Epsilon(micro)
    assert Decimal(repr(epsilon.as_float())) == Decimal(str(epsilon))
