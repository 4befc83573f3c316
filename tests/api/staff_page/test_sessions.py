"""Admin page sessions without a browser: cookies, expiry, revocation, forged forms."""

import re

from fastapi.testclient import TestClient
from sqlalchemy import update

from api.app import create_app
from schema.access import AdminSession
from tests.api.conftest import auth, settings_for


def sign_in(client, key):
    form = client.get("/admin/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    return client.post("/admin/sign-in", data={"key": key, "csrf": token}, follow_redirects=False)


def csrf_of(client):
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/admin").text).group(1)


def test_cookie_flags_and_sign_out(api):
    client, keys, _ = api
    r = sign_in(client, keys["admin"])
    assert r.status_code == 303 and r.headers["location"] == "/admin"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "max-age=28800" in cookie
    assert "path=/admin" in cookie and "secure" not in cookie  # plain HTTP in development
    assert client.get("/admin").status_code == 200
    assert client.get("/v1/me").status_code == 401  # the API never takes the cookie
    token = csrf_of(client)
    out = client.post("/admin/sign-out", data={"csrf": token}, follow_redirects=False)
    assert out.headers["location"] == "/admin/sign-in"
    assert client.get("/admin", follow_redirects=False).status_code == 303


def test_secure_cookie_in_production(world_url, world_keys):
    # A copy of its own: a server with another audit key must never seal the same log.
    keys = world_keys
    app = create_app(
        settings_for(world_url, environment="production", audit_key="a-production-audit-key")
    )
    with TestClient(app, base_url="https://testserver") as client:
        r = sign_in(client, keys["admin"])
        assert "secure" in r.headers["set-cookie"].lower()


def test_sessions_end_with_their_key_and_their_time(api):
    client, keys, engine = api
    sign_in(client, keys["admin"])
    me = client.get("/v1/me", headers=auth(keys["admin"])).json()
    key_id = client.get(f"/v1/admin/accounts/{me['id']}", headers=auth(keys["admin"])).json()
    assert client.get("/admin").status_code == 200
    with engine.begin() as conn:
        conn.execute(update(AdminSession).values(expires_at=AdminSession.created_at))
    assert client.get("/admin", follow_redirects=False).status_code == 303
    sign_in(client, keys["admin"])
    assert client.get("/admin").status_code == 200
    client.post(f"/v1/admin/keys/{key_id['keys'][0]['key_id']}/revoke", headers=auth(keys["admin"]))
    assert client.get("/admin", follow_redirects=False).status_code == 303


def test_forms_from_another_site_or_without_the_token_are_refused(api):
    client, keys, _ = api
    sign_in(client, keys["admin"])
    token = csrf_of(client)
    url = "/admin/datasets/helpline-cases/budget"
    body = {"cap": "50", "max_per_query": "1", "reason": "r"}
    assert client.post(url, data=body).status_code == 403
    other = client.post(
        url, data=body | {"csrf": token}, headers={"Origin": "https://evil.example"}
    )
    assert other.status_code == 403 and "another site" in other.text
    ok = client.post(url, data=body | {"csrf": token}, follow_redirects=False)
    assert ok.status_code == 303
    budgets = client.get("/v1/admin/budgets", headers=auth(keys["admin"])).json()
    assert budgets["datasets"][0]["cap"] == 50


def test_a_bad_change_shows_why_and_changes_nothing(api):
    client, keys, _ = api
    sign_in(client, keys["admin"])
    token = csrf_of(client)
    alice = client.get("/v1/me", headers=auth(keys["alice"])).json()["id"]
    r = client.post(
        f"/admin/accounts/{alice}/budget",
        data={"dataset": "helpline-cases", "epsilon": "-1", "reason": "r", "csrf": token},
    )
    assert r.status_code == 422 and "limit: epsilon must not be negative" in r.text
    r = client.post(
        f"/admin/accounts/{alice}/budget",
        data={"dataset": "helpline-cases", "epsilon": "2", "reason": " ", "csrf": token},
    )
    assert r.status_code == 422 and "written reason" in r.text
    me = client.get("/v1/me", headers=auth(keys["alice"])).json()
    assert me["budgets"][0]["limit"] == 0.25


def test_security_headers(api):
    client, keys, _ = api
    sign_in(client, keys["admin"])
    page = client.get("/admin")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    # The page's own script file only: no inline script, no eval, nothing from elsewhere.
    assert "script-src 'self';" in policy and "unsafe" not in policy
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    api_response = client.get("/v1/me", headers=auth(keys["alice"]))
    assert api_response.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in api_response.headers
