"""Audit entries read as sentences on the audit page, made from real entries (changes made on
the page and queries through the API), and budgets said as "about N more queries"."""

import html
import re
from datetime import UTC, datetime

from api.staff.budgets import like_last
from api.staff.records import AuditRecord
from api.staff_page.sentences import sentence
from privacy import Epsilon
from tests.api.conftest import auth
from tests.api.staff_page.test_sessions import csrf_of, sign_in


def _said(client, action=""):
    page = client.get(f"/admin/audit?action={action}").text
    cells = re.findall(r'<td class="detail">(.*?)</td>', page, re.S)
    return [html.unescape(c) for c in cells]


def test_changes_made_by_staff_read_as_sentences(api):
    client, keys, _ = api
    sign_in(client, keys["admin"])
    token = csrf_of(client)
    admin = client.get("/v1/me", headers=auth(keys["admin"])).json()["id"]
    alice = client.get("/v1/me", headers=auth(keys["alice"])).json()["id"]
    client.post(
        f"/admin/accounts/{alice}/budget",
        data={"dataset": "helpline-cases", "epsilon": "2", "reason": "second year", "csrf": token},
    )
    client.post(
        "/admin/datasets/helpline-cases/budget",
        data={"cap": "20", "max_per_query": "1", "reason": "new grant", "csrf": token},
    )
    created = client.post(
        "/admin/accounts",
        data={"name": "Zara", "role": "partner", "datasets": ["helpline-cases"], "csrf": token},
    )
    zara = int(re.search(r'href="/admin/accounts/(\d+)"', created.text).group(1))
    key_id = client.get(f"/v1/admin/accounts/{zara}", headers=auth(keys["admin"])).json()
    client.post(f"/admin/keys/{key_id['keys'][0]['key_id']}/revoke", data={"csrf": token})
    said = _said(client)
    assert (
        f"admin (#{admin}) set alice (#{alice})'s budget on helpline-cases to ε 2 (was ε 0.25):"
        " reason “second year”." in said
    )
    assert (
        f"admin (#{admin}) set the cap on helpline-cases to ε 20 and the most per query to ε 1"
        " (was ε 10 and ε 0.5): reason “new grant”." in said
    )
    assert (
        f"admin (#{admin}) created the partner account Zara (#{zara}), with access to"
        " helpline-cases." in said
    )
    assert f"admin (#{admin}) revoked key #{key_id['keys'][0]['key_id']} of Zara (#{zara})." in said
    assert not any(s.lstrip().startswith("{") for s in said)  # no JSON left


def test_queries_read_as_sentences(api):
    client, keys, _ = api
    body = {"dataset": "helpline-cases", "group_by": ["gender"], "epsilon": 0.05}
    first = client.post("/v1/queries", json=body, headers=auth(keys["alice"])).json()
    client.post("/v1/queries", json=body, headers=auth(keys["alice"]))
    alice = client.get("/v1/me", headers=auth(keys["alice"])).json()["id"]
    sign_in(client, keys["admin"])
    said = _said(client, "query")
    release = first["release_id"]
    assert said[:2] == [
        f"alice (#{alice}) repeated a query on helpline-cases, answered from the cache for free.",
        f"alice (#{alice}) ran a query on helpline-cases, charged ε 0.05 (release {release}).",
    ]


def test_budgets_in_queries_like_the_last_one(api):
    client, keys, _ = api
    body = {"dataset": "helpline-cases", "group_by": ["gender"], "epsilon": 0.05}
    client.post("/v1/queries", json=body, headers=auth(keys["alice"]))  # 0.25 - 0.05 = 0.2
    sign_in(client, keys["admin"])
    alice = client.get("/v1/me", headers=auth(keys["alice"])).json()["id"]
    page = client.get(f"/admin/accounts/{alice}").text
    assert "About 4 more queries like the last one (ε 0.05)" in page
    assert 'lang="ur" dir="rtl"' in page  # ε explained in Urdu as well
    overview = client.get("/admin").text
    assert "About 4 more queries like the last one (ε 0.05)" in overview  # alice's row
    assert "About 199 more queries like the last one (ε 0.05)" in overview  # the cap of 10
    assert "Nothing charged yet" in overview  # bob has spent nothing


def test_like_last_is_whole_charges_from_epsilon_only():
    assert like_last(Epsilon(200_000), Epsilon(50_000)) == 4
    assert like_last(Epsilon(199_999), Epsilon(50_000)) == 3
    assert like_last(Epsilon(0), Epsilon(50_000)) == 0
    assert like_last(Epsilon(200_000), None) is None


def test_an_entry_without_its_own_wording_or_with_bad_detail_is_still_said():
    entry = AuditRecord(
        1, datetime.now(UTC), 7, "something.new", "done", None, None, None, None, "[1]", None
    )
    assert sentence(entry, {7: "Ayesha"}) == "Ayesha (#7): something.new, done."
    cli = AuditRecord(
        2, datetime.now(UTC), None, "key.issue", "issued", None, None, None, None,
        '{"by": "cli", "account": 7, "key_id": 3}', None,
    )  # fmt: skip
    assert sentence(cli, {7: "Ayesha"}) == (
        "Someone at the terminal (amaan CLI) issued key #3 to Ayesha (#7)."
    )
