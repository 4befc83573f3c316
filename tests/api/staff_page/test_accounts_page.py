"""The accounts page without a browser: every account listed, accounts created and keys
issued through the staff services (CSRF-checked, audited as from the API), bad fields named."""

import html
import json
import re

from tests.api.conftest import auth
from tests.api.staff_page.test_sessions import csrf_of, sign_in


def _shown_key(text):
    return html.unescape(re.search(r'id="new-key" readonly value="([^"]+)"', text).group(1))


def _audit(client, keys, action):
    return client.get(f"/v1/admin/audit?action={action}", headers=auth(keys["admin"])).json()[
        "items"
    ]


def test_every_account_is_listed_with_its_role(api):
    client, keys, _ = api
    sign_in(client, keys["admin"])
    page = client.get("/admin/accounts")
    assert page.status_code == 200
    listed = client.get("/v1/admin/accounts", headers=auth(keys["admin"])).json()["items"]
    for account in listed:
        assert f'href="/admin/accounts/{account["account_id"]}">{account["name"]}<' in page.text
    assert {a["role"] for a in listed} == {"researcher", "partner", "admin"}
    assert page.text.count('data-field="role"') == len(listed)


def test_create_an_account_shows_its_key_once_and_audits_it(api):
    client, keys, _ = api
    sign_in(client, keys["admin"])
    form = {
        "name": "Dr Sana Qureshi",
        "role": "researcher",
        "organisation": "LUMS",
        "datasets": ["helpline-cases"],
        "budget": "0.5",
        "csrf": csrf_of(client),
    }
    created = client.post("/admin/accounts", data=form)
    assert created.status_code == 201 and created.headers["cache-control"] == "no-store"
    assert 'data-copy="new-key"' in created.text and "/admin/static/copy.js" in created.text
    key = _shown_key(created.text)
    me = client.get("/v1/me", headers=auth(key)).json()
    assert me["name"] == "Dr Sana Qureshi" and me["budgets"][0]["limit"] == 0.5
    assert key not in client.get(f"/admin/accounts/{me['id']}").text  # shown once only

    admin_id = client.get("/v1/me", headers=auth(keys["admin"])).json()["id"]
    entry = _audit(client, keys, "account.create")[0]
    assert entry["account_id"] == admin_id
    assert json.loads(entry["detail"])["account"] == me["id"]
    issued = _audit(client, keys, "key.issue")[0]
    assert json.loads(issued["detail"]) == {
        "by": f"account:{admin_id}",
        "account": me["id"],
        "key_id": json.loads(issued["detail"])["key_id"],
    }
    assert key not in json.dumps(_audit(client, keys, "key.issue"))  # keys are never logged


def test_issue_another_key_for_an_account(api):
    client, keys, _ = api
    sign_in(client, keys["admin"])
    bob = client.get("/v1/me", headers=auth(keys["bob"])).json()["id"]
    form = {"label": "laptop", "expires": "2999-01-31", "csrf": csrf_of(client)}
    issued = client.post(f"/admin/accounts/{bob}/keys", data=form)
    assert issued.status_code == 201
    key = _shown_key(issued.text)
    assert client.get("/v1/me", headers=auth(key)).json()["id"] == bob
    view = client.get(f"/v1/admin/accounts/{bob}", headers=auth(keys["admin"])).json()
    newest = view["keys"][-1]
    assert newest["label"] == "laptop" and newest["expires_at"].startswith("2999-01-31")


def test_bad_fields_are_named_with_what_they_take_and_nothing_is_created(api):
    client, keys, _ = api
    sign_in(client, keys["admin"])
    token = csrf_of(client)
    before = len(client.get("/v1/admin/accounts", headers=auth(keys["admin"])).json()["items"])
    cases = [
        ({"name": "X", "role": "root"}, "role must be one of researcher, partner, admin"),
        ({"name": "  ", "role": "partner"}, "name must not be empty"),
        ({"name": "X" * 201, "role": "partner"}, "name must be at most 200 characters"),
        ({"name": "X", "role": "partner", "budget": "lots"}, "budget: epsilon must be"),
        ({"name": "X", "role": "partner", "expires": "31/01/2030"}, "YYYY-MM-DD"),
        ({"name": "X", "role": "partner", "expires": "2001-01-01"}, "must lie in the future"),
        ({"name": "X", "role": "partner", "datasets": ["nope"]}, "no dataset"),
    ]
    for form, reason in cases:
        r = client.post("/admin/accounts", data=form | {"csrf": token})
        assert r.status_code in (404, 422) and reason in html.unescape(r.text), (form, r.text)
        assert 'name="csrf"' in r.text  # the form is shown again
    r = client.post("/admin/accounts/1/keys", data={"label": "l" * 201, "csrf": token})
    assert r.status_code == 422 and "label must be at most 200" in r.text
    forged = client.post("/admin/accounts", data={"name": "Mallory", "role": "admin"})
    assert forged.status_code == 403
    after = client.get("/v1/admin/accounts", headers=auth(keys["admin"])).json()["items"]
    assert len(after) == before and "Mallory" not in {a["name"] for a in after}


def test_the_publish_confirmation_repeats_every_choice(api):
    client, keys, _ = api
    sign_in(client, keys["admin"])
    partner = client.get("/v1/me", headers=auth(keys["partner"])).json()["id"]
    form = {
        "title": "Cases by gender",
        "description": "For the annual report",
        "dataset": "helpline-cases",
        "group_by": ["gender", "province"],
        "filter_dimension": "gender",
        "filter_values": "F, M",
        "period_from": "2024-01",
        "period_to": "2024-06",
        "measure": "epsilon",
        "amount": "0.5",
        "audience": [str(partner)],
        "rounding": "10",
        "margins": "true",
        "csrf": csrf_of(client),
    }
    page = html.unescape(client.post("/admin/releases/estimate", data=form).text)
    choices = dict(re.findall(r'data-choice="([a-z]+)">(.*?)</dd>', page, re.S))
    assert choices["title"] == "Cases by gender"
    assert choices["description"] == "For the annual report"
    assert "<code>helpline-cases</code>" in choices["dataset"]
    assert choices["period"] == "2024-01 to 2024-06"
    assert choices["grouping"] == "gender, province"
    assert choices["filter"] == "gender: F, M"
    assert choices["totals"] == "with totals (margins)"
    assert choices["rounding"] == "counts rounded to a multiple of 10"
    assert choices["confidence"].startswith("95.0% intervals: each count within ± ")
    assert choices["audience"] == f"partner (#{partner})"
    assert re.search(r'data-field="epsilon">0.5<', page)
    assert re.search(r'data-field="share">5.0% of ε 10<', page)  # the world's cap is 10
    assert re.search(r'data-field="left-after">ε 9.5<', page)
    spent = client.get("/v1/admin/budgets", headers=auth(keys["admin"])).json()
    assert spent["datasets"][0]["spent"] == 0  # nothing is spent before Publish
