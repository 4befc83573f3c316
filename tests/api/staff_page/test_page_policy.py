"""The staff page's access policy, and that every route of the app has one.

The page (outside OpenAPI) takes only its own session cookie: no session and a bearer key
alike are sent to sign in (303) or refused (403 for a form without its token). With a staff
session, every page answers. ``test_every_route_of_the_app_has_a_policy`` walks ``app.routes``
(the REST API's table is ``tests/api/test_security.POLICY``), so a new route of any surface
without a declared policy fails it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from api.app import create_app
from tests.api.conftest import auth, settings_for
from tests.api.staff_page.test_sessions import csrf_of, sign_in
from tests.api.test_security import POLICY

# method, path, form: status without a session (a bearer key too), status with a staff session
PAGE_POLICY = [
    ("GET", "/admin/sign-in", None, 200, 200),
    ("POST", "/admin/sign-in", {"key": "x"}, 403, 403),  # no sign-in token: a forged form
    ("POST", "/admin/sign-out", {}, 303, 303),
    ("GET", "/admin", None, 303, 200),
    ("POST", "/admin/datasets/{dataset}/budget", {}, 303, 422),  # an empty form: its errors
    ("GET", "/admin/accounts/{account}", None, 303, 200),
    ("POST", "/admin/accounts/{account}/budget", {}, 303, 422),
    ("GET", "/admin/accounts", None, 303, 200),
    ("POST", "/admin/accounts", {}, 303, 422),  # an empty form: no name
    ("POST", "/admin/accounts/{account}/keys", {}, 303, 201),  # a key, shown once
    ("GET", "/admin/keys/{key}/revoke", None, 303, 200),
    ("POST", "/admin/keys/{key}/revoke", {}, 303, 303),
    ("GET", "/admin/audit", None, 303, 200),
    ("GET", "/admin/releases", None, 303, 200),
    ("POST", "/admin/releases/estimate", {}, 303, 422),
    ("POST", "/admin/releases", {}, 303, 422),
    ("GET", "/admin/summaries", None, 303, 200),
    ("POST", "/admin/summaries", {}, 303, 404),  # an empty form: no such dataset
    ("GET", "/admin/summaries/{report}/report.csv", None, 303, 200),
    ("POST", "/admin/summaries/{report}/publish", {}, 303, 422),  # no title
]
# Open to everyone by design: liveness and readiness, the page's stylesheet, the API's docs
# and the pinned assets of its pages (public code, never data).
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/admin/static"),
    ("GET", "/docs"),
    ("GET", "/openapi.json"),
    ("HEAD", "/openapi.json"),
    ("GET", "/static"),
}


def _walk(routes: Iterable[object], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every route, through FastAPI's included routers."""
    for route in routes:
        context = getattr(route, "include_context", None)
        if context is not None:
            yield from _walk(route.original_router.routes, prefix + context.prefix)  # type: ignore[attr-defined]
            continue
        path = prefix + route.path  # type: ignore[attr-defined]
        for method in getattr(route, "methods", None) or {"GET"}:
            yield method, path


def _template(path: str) -> str:
    return "/".join("{}" if p.startswith("{") else p.split("?")[0] for p in path.split("/"))


def test_every_route_of_the_app_has_a_policy(world_url):
    app = create_app(settings_for(world_url, api_docs=True))  # every route there is
    declared = {(m, _template(p)) for m, p, _, _ in POLICY}
    declared |= {(m, _template(p)) for m, p, *_ in PAGE_POLICY} | PUBLIC
    routes = {(m, _template(p)) for m, p in _walk(app.routes)}
    assert routes - declared == set(), "routes without a policy"
    assert declared - routes == set(), "policies for routes that do not exist"


def _values(client, keys):
    me = client.get("/v1/me", headers=auth(keys["bob"])).json()["id"]
    account = client.get(f"/v1/admin/accounts/{me}", headers=auth(keys["admin"])).json()
    report = {"dataset": "helpline-cases", "template": "annual-report", "year": 2024}
    made = client.post(
        "/v1/admin/summaries", json=report | {"epsilon": 1}, headers=auth(keys["admin"])
    )
    values = {"dataset": "helpline-cases", "account": me, "key": account["keys"][0]["key_id"]}
    return values | {"report": made.json()["release_id"]}


def _url(path, values):
    for name, value in values.items():
        path = path.replace("{" + name + "}", str(value))
    return path


def test_the_page_takes_only_its_session(api):
    client, keys, _ = api
    values = _values(client, keys)
    for method, path, form, without, _ in PAGE_POLICY:
        url = _url(path, values)
        for headers in ({}, auth(keys["admin"])):
            r = client.request(method, url, data=form, headers=headers, follow_redirects=False)
            assert r.status_code == without, (method, path, headers, r.status_code)


def test_a_staff_session_reaches_every_page(api):
    client, keys, _ = api
    values = _values(client, keys)
    assert sign_in(client, keys["admin"]).status_code == 303
    got, expected = {}, {}
    for method, path, form, _, with_session in PAGE_POLICY:
        if path in ("/admin/sign-out", "/admin/sign-in"):
            continue  # the one would end the session the others use; the other is a form
        data = None if form is None else form | {"csrf": csrf_of(client)}
        r = client.request(method, _url(path, values), data=data, follow_redirects=False)
        got[method, path], expected[method, path] = r.status_code, with_session
    assert got == expected
