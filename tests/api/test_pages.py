"""Lists a page at a time, the same in REST and GraphQL: limit, opaque cursor, next."""

import base64

import pytest

from tests.api.conftest import auth

QUERY = {"dataset": "helpline-cases", "epsilon": 0.01}
GROUPS = [["gender"], ["year"], ["province"], ["channel"], ["gender", "year"]]
LISTING = """query ($limit: Int, $cursor: String) {
  releases(limit: $limit, cursor: $cursor) { items { releaseId } next } }"""


def _rest_pages(client, key, limit):
    ids, params, pages = [], {"limit": str(limit)}, 0
    while True:
        r = client.get("/v1/releases", params=params, headers=auth(key))
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= limit
        ids += [i["release_id"] for i in page["items"]]
        pages += 1
        if page["next"] is None:
            return ids, pages
        params["cursor"] = page["next"]


def _graphql_pages(client, key, limit):
    ids, variables = [], {"limit": limit}
    while True:
        r = client.post(
            "/graphql", json={"query": LISTING, "variables": variables}, headers=auth(key)
        )
        page = r.json()["data"]["releases"]
        ids += [i["releaseId"] for i in page["items"]]
        if page["next"] is None:
            return ids
        variables["cursor"] = page["next"]


def test_pages_walk_every_release_once_in_both_interfaces(api):
    client, keys, _ = api
    made = []
    for group_by in GROUPS:
        r = client.post(
            "/v1/queries", json=QUERY | {"group_by": group_by}, headers=auth(keys["alice"])
        )
        assert r.status_code == 200, r.text
        made.append(r.json()["release_id"])
    newest_first = made[::-1]
    whole = client.get("/v1/releases", headers=auth(keys["alice"])).json()
    assert [i["release_id"] for i in whole["items"]] == newest_first and whole["next"] is None
    assert _rest_pages(client, keys["alice"], 2) == (newest_first, 3)
    assert _rest_pages(client, keys["alice"], 5) == (newest_first, 1)
    assert _graphql_pages(client, keys["alice"], 2) == newest_first
    assert _rest_pages(client, keys["bob"], 2) == ([], 1)  # another caller's releases: none


def _cursor(text):
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "１０"}, "limit"),  # full-width digits
        ({"limit": "1e2"}, "limit"),
        ({"cursor": "not base64!"}, "cursor"),
        ({"cursor": _cursor("query.0")}, "cursor"),
        ({"cursor": _cursor("ledger.5")}, "cursor"),  # not a part of this list
        ({"cursor": _cursor("query.05")}, "cursor"),
        ({"cursor": _cursor("query.5") + "=="}, "cursor"),  # one cursor, one spelling
    ],
)
def test_bad_pages_are_refused_naming_the_field(api, params, field):
    client, keys, _ = api
    r = client.get("/v1/releases", params=params, headers=auth(keys["alice"]))
    assert (r.status_code, r.json()["error"]["field"]) == (422, field), r.text
    variables = {
        k: int(v) if k == "limit" and v.lstrip("-").isascii() and v.lstrip("-").isdigit() else v
        for k, v in params.items()
    }
    if all(not isinstance(v, str) or k == "cursor" for k, v in variables.items()):
        g = client.post(
            "/graphql", json={"query": LISTING, "variables": variables}, headers=auth(keys["alice"])
        )
        error = g.json()["errors"][0]["extensions"]
        assert (error["code"], error["field"]) == ("invalid_query", field), g.text
