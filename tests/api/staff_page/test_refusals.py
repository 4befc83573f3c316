"""The staff page's own surface: its credential is the session cookie only, its refusals are
pages (shown by one handler), and every response of it carries its headers."""

from tests.api.conftest import auth
from tests.api.staff_page.test_sessions import csrf_of, sign_in


def test_refusals_are_pages_and_the_page_takes_no_bearer_key(api):
    client, keys, _ = api
    by_key = client.get("/admin", headers=auth(keys["admin"]), follow_redirects=False)
    assert by_key.status_code == 303 and by_key.headers["location"] == "/admin/sign-in"
    assert by_key.headers["x-frame-options"] == "DENY"  # the redirect is the page's too
    assert "frame-ancestors 'none'" in by_key.headers["content-security-policy"]

    sign_in(client, keys["admin"])
    token = csrf_of(client)
    missing_key = client.get("/admin/keys/999999/revoke")
    assert missing_key.status_code == 404 and "no key 999999" in missing_key.text
    assert missing_key.headers["content-type"].startswith("text/html")
    # The account's page cannot be shown again when there is no such account: the message.
    gone = client.post(
        "/admin/accounts/999999/budget",
        data={"dataset": "helpline-cases", "epsilon": "1", "reason": "r", "csrf": token},
    )
    assert gone.status_code == 404 and "no account 999999" in gone.text
    assert gone.headers["content-type"].startswith("text/html")
    refused = client.post(
        "/admin/datasets/helpline-cases/budget",
        data={"cap": "1", "max_per_query": "2", "reason": "r", "csrf": token},
    )
    assert refused.status_code == 422 and "must not exceed the cap" in refused.text
    assert refused.headers["cache-control"] == "no-store"
    budgets = client.get("/v1/admin/budgets", headers=auth(keys["admin"])).json()
    assert budgets["datasets"][0]["cap"] == 10  # nothing of the refused change was kept

    form = {
        "title": "T",
        "dataset": "helpline-cases",
        "group_by": ["gender"],
        "measure": "epsilon",
        "amount": "0,1",
        "audience": ["all-partners"],
        "csrf": token,
    }
    again = client.post("/admin/releases/estimate", data=form)
    assert again.status_code == 422 and "digits 0-9" in again.text
    assert 'value="T"' in again.text and 'value="0,1"' in again.text  # the form, filled in
