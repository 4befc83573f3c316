"""The dataset list and the staff's lists, a page at a time as the release list is: limit,
opaque cursor, next (null at the end); keyset, so each row is shown once."""

import csv
import io

import pytest
from sqlalchemy.orm import Session

from schema.repositories import accounts
from schema.repositories.datasets import get_or_create_dataset
from tests.api.conftest import auth

QUERY = {"dataset": "helpline-cases", "group_by": ["gender"], "epsilon": 0.01}
DATASETS = """query ($limit: Int, $cursor: String) {
  datasets(limit: $limit, cursor: $cursor) { items { slug } next } }"""


def _walk(client, key, path, limit, name, **extra):
    seen, params = [], {"limit": str(limit), **extra}
    while True:
        r = client.get(path, params=params, headers=auth(key))
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= limit
        seen += [item[name] for item in page["items"]]
        if page["next"] is None:
            return seen
        params["cursor"] = page["next"]


def test_datasets_a_page_at_a_time_in_both_interfaces(api):
    client, keys, engine = api
    with Session(engine) as s, s.begin():
        bob = accounts.authenticate(s, keys["bob"])[0]
        for slug in ("c-helpline", "a-helpline"):  # made out of slug order
            made = get_or_create_dataset(
                s, slug, max_cases_per_person=2, max_vulnerable_groups=1, max_referrals=1
            )
            accounts.grant(s, bob.id, made.id)
    slugs = ["a-helpline", "c-helpline", "helpline-cases"]
    assert _walk(client, keys["bob"], "/v1/datasets", 100, "slug") == slugs
    assert _walk(client, keys["bob"], "/v1/datasets", 2, "slug") == slugs  # a page boundary
    assert _walk(client, keys["bob"], "/v1/datasets", 1, "slug") == slugs
    first = client.get("/v1/datasets", params={"limit": "2"}, headers=auth(keys["bob"])).json()
    assert first["next"] is not None
    variables: dict = {"limit": 2}
    walked = []
    while True:
        r = client.post(
            "/graphql", json={"query": DATASETS, "variables": variables}, headers=auth(keys["bob"])
        )
        page = r.json()["data"]["datasets"]
        walked += [d["slug"] for d in page["items"]]
        if page["next"] is None:
            break
        assert page["next"] == first["next"]  # the same cursor in both
        variables["cursor"] = page["next"]
    assert walked == slugs
    assert _walk(client, keys["alice"], "/v1/datasets", 1, "slug") == ["helpline-cases"]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/datasets",
        "/v1/admin/accounts",
        "/v1/admin/releases",
        "/v1/admin/ledger",
        "/v1/admin/audit",
        "/v1/admin/summaries",
        "/v1/reports",
    ],
)
@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": "0"}, "limit"), ({"limit": "x"}, "limit"), ({"cursor": "nope!"}, "cursor")],
)
def test_bad_pages_are_refused_naming_the_field(api, path, params, field):
    client, keys, _ = api
    if path == "/v1/admin/summaries":
        params = params | {"dataset": "helpline-cases"}
    r = client.get(path, params=params, headers=auth(keys["admin"]))
    assert (r.status_code, r.json()["error"]["field"]) == (422, field), r.text


def test_the_staff_lists_a_page_at_a_time(api):
    client, keys, _ = api
    for epsilon in (0.01, 0.02, 0.03):
        body = QUERY | {"epsilon": epsilon}
        assert client.post("/v1/queries", json=body, headers=auth(keys["alice"])).status_code == 200
    admin = auth(keys["admin"])
    every = client.get("/v1/admin/accounts", headers=admin).json()
    assert every["next"] is None
    ids = [a["account_id"] for a in every["items"]]
    assert _walk(client, keys["admin"], "/v1/admin/accounts", 2, "account_id") == ids
    assert ids == sorted(ids)
    charges = _walk(client, keys["admin"], "/v1/admin/ledger", 2, "epsilon")
    assert charges == [0.03, 0.02, 0.01]  # newest first, each once
    entries = client.get("/v1/admin/audit", headers=admin).json()["items"]
    assert _walk(client, keys["admin"], "/v1/admin/audit", 3, "id") == [e["id"] for e in entries]
    assert client.get("/v1/admin/releases", headers=admin).json() == {"items": [], "next": None}


def test_csv_pages_name_the_next_in_a_link_header(api):
    client, keys, _ = api
    for epsilon in (0.01, 0.02):
        body = QUERY | {"epsilon": epsilon}
        assert client.post("/v1/queries", json=body, headers=auth(keys["alice"])).status_code == 200
    admin = auth(keys["admin"])
    first = client.get("/v1/admin/ledger?format=csv&limit=1", headers=admin)
    assert first.status_code == 200
    assert [r["epsilon"] for r in csv.DictReader(io.StringIO(first.text))] == ["0.02"]
    link = first.headers["link"]
    assert link.startswith("<http") and link.endswith('>; rel="next"') and "format=csv" in link
    following = client.get(link[1 : link.index(">")], headers=admin)
    assert [r["epsilon"] for r in csv.DictReader(io.StringIO(following.text))] == ["0.01"]
    assert "link" not in following.headers  # the last page


def test_summaries_and_reports_a_page_at_a_time(api):
    client, keys, _ = api
    admin = auth(keys["admin"])
    made = []
    for body in ({"epsilon": 0.1}, {"epsilon": 0.2}, {"template": "annual-report", "year": 2024}):
        body = {"dataset": "helpline-cases", "epsilon": 1} | body
        r = client.post("/v1/admin/summaries", json=body, headers=admin)
        assert r.status_code == 201, r.text
        made.append(r.json()["release_id"])
    newest = made[::-1]
    path = "/v1/admin/summaries"
    for limit in (100, 2, 1):
        walked = _walk(client, keys["admin"], path, limit, "release_id", dataset="helpline-cases")
        assert walked == newest
    r = client.get(path, params={"dataset": "helpline-cases"}, headers=admin).json()
    assert r["next"] is None and [s["release_id"] for s in r["items"]] == newest
    for title in ("first", "second"):
        publish = {"title": title, "audience": ["all-partners"]}
        r = client.post(f"/v1/admin/summaries/{made[2]}/publish", json=publish, headers=admin)
        assert r.status_code == 201, r.text
    assert _walk(client, keys["partner"], "/v1/reports", 1, "title") == ["second", "first"]
