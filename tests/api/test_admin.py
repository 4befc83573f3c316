"""The staff's admin API: accounts, keys, grants, budgets with reasons, overview, ledger, audit."""

import csv
import io
import json

from tests.api.conftest import auth

QUERY = {"dataset": "helpline-cases", "group_by": ["gender"], "epsilon": 0.1}


def staff(client, keys, method, url, **kw):
    return client.request(method, url, headers=auth(keys["admin"]), **kw)


def test_accounts_and_keys_lifecycle(api):
    client, keys, _ = api
    r = staff(
        client,
        keys,
        "POST",
        "/v1/admin/accounts",
        json={
            "name": "Dr Z",
            "role": "researcher",
            "organisation": "LUMS",
            "datasets": ["helpline-cases"],
            "budget": "0.5",
        },
    )
    assert r.status_code == 201, r.text
    made = r.json()
    me = client.get("/v1/me", headers=auth(made["key"])).json()
    assert (me["role"], me["budgets"][0]["limit"]) == ("researcher", 0.5)

    second = staff(
        client,
        keys,
        "POST",
        f"/v1/admin/accounts/{made['account_id']}/keys",
        json={"label": "laptop"},
    ).json()
    assert client.get("/v1/me", headers=auth(second["key"])).status_code == 200
    revoked = staff(client, keys, "POST", f"/v1/admin/keys/{made['key_id']}/revoke")
    assert revoked.status_code == 200
    assert client.get("/v1/me", headers=auth(made["key"])).status_code == 401
    assert client.get("/v1/me", headers=auth(second["key"])).status_code == 200

    view = staff(client, keys, "GET", f"/v1/admin/accounts/{made['account_id']}").json()
    assert [k["label"] for k in view["keys"]] == ["", "laptop"]
    assert view["keys"][0]["revoked_at"] and not view["keys"][1]["revoked_at"]
    assert made["key"] not in json.dumps(view) and second["key"] not in json.dumps(view)

    off = staff(
        client, keys, "PATCH", f"/v1/admin/accounts/{made['account_id']}", json={"active": False}
    )
    assert off.status_code == 200 and off.json()["active"] is False
    assert client.get("/v1/me", headers=auth(second["key"])).status_code == 401

    bad = staff(client, keys, "POST", "/v1/admin/accounts", json={"name": "x", "role": "owner"})
    assert bad.status_code == 422
    missing = staff(
        client,
        keys,
        "POST",
        "/v1/admin/accounts",
        json={"name": "x", "role": "partner", "datasets": ["nope"]},
    )
    assert missing.status_code == 404 and "nope" in missing.json()["error"]["message"]
    assert (
        len(staff(client, keys, "GET", "/v1/admin/accounts").json()["items"]) == 7
    )  # nothing half-made


def test_grants(api):
    client, keys, _ = api
    alice = client.get("/v1/me", headers=auth(keys["alice"])).json()["id"]
    url = f"/v1/admin/accounts/{alice}/grants/helpline-cases"
    assert staff(client, keys, "DELETE", url).status_code == 204
    assert client.post("/v1/queries", json=QUERY, headers=auth(keys["alice"])).status_code == 404
    assert staff(client, keys, "PUT", url).status_code == 204
    assert client.post("/v1/queries", json=QUERY, headers=auth(keys["alice"])).status_code == 200


def test_budget_changes_need_a_reason_and_are_audited(api):
    client, keys, _ = api
    alice = client.get("/v1/me", headers=auth(keys["alice"])).json()["id"]
    url = f"/v1/admin/accounts/{alice}/budget"
    no_reason = staff(client, keys, "PUT", url, json={"dataset": "helpline-cases", "epsilon": 2})
    assert no_reason.status_code == 422
    blank = staff(
        client, keys, "PUT", url, json={"dataset": "helpline-cases", "epsilon": 2, "reason": "  "}
    )
    assert blank.status_code == 422 and "reason" in blank.json()["error"]["message"]
    ok = staff(
        client,
        keys,
        "PUT",
        url,
        json={"dataset": "helpline-cases", "epsilon": "2", "reason": "thesis chapter 3"},
    )
    assert ok.json() == {
        "account_id": alice,
        "dataset": "helpline-cases",
        "old": 0.25,
        "new": 2,
    }
    assert client.get("/v1/me", headers=auth(keys["alice"])).json()["budgets"][0]["limit"] == 2

    cap = staff(
        client,
        keys,
        "PUT",
        "/v1/admin/datasets/helpline-cases/budget",
        json={"cap": 3, "max_per_query": 4, "reason": "x"},
    )
    assert cap.status_code == 422 and "must not exceed the cap" in cap.json()["error"]["message"]
    cap = staff(
        client,
        keys,
        "PUT",
        "/v1/admin/datasets/helpline-cases/budget",
        json={"cap": 3, "max_per_query": 0.3, "reason": "new year"},
    )
    assert cap.json()["old"] == {"cap": 10, "max_per_query": 0.5}

    admin_id = client.get("/v1/me", headers=auth(keys["admin"])).json()["id"]
    entries = staff(client, keys, "GET", "/v1/admin/audit?action=budget.account").json()["items"]
    detail = json.loads(entries[0]["detail"])
    assert entries[0]["account_id"] == admin_id
    assert detail == {
        "by": f"account:{admin_id}",
        "account": alice,
        "old_micro": 250_000,
        "new_micro": 2_000_000,
        "reason": "thesis chapter 3",
    }
    dataset_change = staff(client, keys, "GET", "/v1/admin/audit?action=budget.dataset").json()[
        "items"
    ]
    assert json.loads(dataset_change[0]["detail"])["reason"] == "new year"
    assert staff(client, keys, "GET", "/v1/admin/audit/verify").json()["ok"] is True


def test_overview_flags_accounts_at_eighty_percent(api):
    client, keys, _ = api
    for group_by in (["gender"], ["province"]):
        body = QUERY | {"group_by": group_by}
        assert client.post("/v1/queries", json=body, headers=auth(keys["alice"])).status_code == 200
    assert client.post("/v1/queries", json=QUERY, headers=auth(keys["bob"])).status_code == 200
    overview = staff(client, keys, "GET", "/v1/admin/budgets").json()
    dataset = overview["datasets"][0]
    assert (dataset["cap"], dataset["spent"], dataset["remaining"]) == (10, 0.2, 9.8)
    first = overview["accounts"][0]
    assert (first["name"], first["spent"], first["remaining"], first["share_used"]) == (
        "alice",
        0.2,
        0.05,
        0.8,
    )
    assert first["flagged"] and (first["releases"], first["cache_hits"]) == (2, 0)
    bob = next(a for a in overview["accounts"] if a["name"] == "bob")
    assert not bob["flagged"] and (bob["releases"], bob["cache_hits"]) == (0, 1)


def test_ledger_and_audit_filters_and_csv(api):
    client, keys, _ = api
    alice = client.get("/v1/me", headers=auth(keys["alice"])).json()["id"]
    client.post("/v1/queries", json=QUERY, headers=auth(keys["alice"]))
    client.post("/v1/queries", json=QUERY | {"epsilon": 0.2}, headers=auth(keys["bob"]))
    everything = staff(client, keys, "GET", "/v1/admin/ledger").json()["items"]
    assert [e["epsilon"] for e in everything] == [0.2, 0.1]  # newest first
    mine = staff(client, keys, "GET", f"/v1/admin/ledger?account={alice}").json()["items"]
    assert [e["epsilon"] for e in mine] == [0.1]
    future = staff(client, keys, "GET", "/v1/admin/ledger?since=2999-01-01T00:00:00Z").json()
    assert future == {"items": [], "next": None}
    bad = staff(client, keys, "GET", "/v1/admin/ledger?dataset=nope")
    assert bad.status_code == 404
    r = staff(client, keys, "GET", f"/v1/admin/audit?account={alice}&format=csv")
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows and {row["account_id"] for row in rows} == {str(alice)}
    assert "released" in {row["outcome"] for row in rows}


def test_other_roles_cannot_reach_admin_routes(api):
    client, keys, _ = api
    for who in ("alice", "partner"):
        r = client.get("/v1/admin/budgets", headers=auth(keys[who]))
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert client.get("/v1/admin/budgets").status_code == 401
