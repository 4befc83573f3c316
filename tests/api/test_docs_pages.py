"""Swagger UI (``/docs``) and GraphiQL (``/graphql``) work offline: in Chromium, against a real
server, with every request to another host aborted, both pages render and work, and no request
leaves the host. The OpenAPI document declares the bearer scheme that "Authorize" fills in."""

import os
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy.orm import Session

from schema.db import make_engine
from schema.repositories import accounts
from tests.api.servers import AMAAN, running_server

pytestmark = pytest.mark.slow  # a real server and Chromium

CHROMIUM = "/usr/bin/chromium"
LOCAL = {"127.0.0.1"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        if os.environ.get("AMAAN_REQUIRE_POSTGRES") == "1":  # CI: everything must run
            pytest.fail(f"{CHROMIUM} is missing (Debian package chromium)")
        pytest.skip(f"browser tests need {CHROMIUM}")
    folder = tmp_path_factory.mktemp("docs")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMAAN_")}
    env["AMAAN_DATABASE_URL"] = url = f"sqlite:///{folder / 'amaan.db'}"
    subprocess.run([AMAAN, "db", "upgrade"], env=env, check=True, capture_output=True)
    engine = make_engine(url)
    with Session(engine) as s, s.begin():
        account = accounts.create_account(s, name="Reader", role="researcher")
        key = accounts.issue_key(s, account.id)[1]
    engine.dispose()
    with running_server(env, workers=1) as base:
        yield base, key


@pytest.fixture
def page(server):
    from playwright.sync_api import sync_playwright

    base, _ = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
        seen = {"local": [], "blocked": [], "errors": []}

        def only_local(route):
            if urlsplit(route.request.url).hostname in LOCAL:
                seen["local"].append(route.request.url)
                route.continue_()
            else:
                seen["blocked"].append(route.request.url)
                route.abort()

        context.route("**/*", only_local)
        page = context.new_page()
        page.on("pageerror", lambda e: seen["errors"].append(str(e)))
        page.on("console", lambda m: m.type == "error" and seen["errors"].append(m.text))
        yield page, seen
        context.close()
        browser.close()


def test_the_openapi_document_declares_the_bearer_scheme(server):
    import httpx

    base, _ = server
    spec = httpx.get(f"{base}/openapi.json").json()
    assert spec["components"]["securitySchemes"] == {
        "apiKey": {
            "type": "http",
            "scheme": "bearer",
            "description": "An Amaan API key: `Authorization: Bearer <key>`.",
        }
    }
    operations = [(p, op) for p, ops in spec["paths"].items() for op in ops.values()]
    assert operations and all(
        op.get("security") == [{"apiKey": []}] for p, op in operations if p.startswith("/v1/")
    )
    assert "security" not in spec["paths"]["/healthz"]["get"]


def test_the_pages_tell_the_browser_to_load_nothing_from_elsewhere(server):
    import httpx

    base, _ = server
    for path in ("/docs", "/graphql"):
        page = httpx.get(base + path, headers={"Accept": "text/html"})
        assert page.status_code == 200 and "unpkg" not in page.text and "jsdelivr" not in page.text
        csp = dict(
            part.strip().split(" ", 1)
            for part in page.headers["content-security-policy"].split(";")
        )
        assert csp["default-src"] == "'none'" and csp["connect-src"] == "'self'"
        assert csp["script-src"].startswith("'self'") and "http" not in csp["script-src"]


def test_swagger_ui_renders_and_authorize_works_offline(server, page):
    base, key = server
    page, seen = page
    page.goto("/docs")
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock-summary-path", has_text="/v1/queries/estimate").count() == 1
    assert page.locator(".opblock").count() > 20  # every operation, not a blank page
    page.get_by_role("button", name="Authorize").first.click()
    dialog = page.locator(".modal-ux")
    assert "(http, Bearer)" in dialog.inner_text()
    dialog.get_by_label("auth-bearer-value").fill(key)
    dialog.get_by_role("button", name="Apply credentials").click()
    dialog.get_by_role("button", name="Remove authorization").wait_for()  # authorised
    dialog.locator("button.btn-done").click()
    me = page.locator("#operations-catalogue-get_me_v1_me_get")
    me.locator(".opblock-summary").click()
    me.get_by_role("button", name="Try it out").click()
    me.get_by_role("button", name="Execute").click()
    body = me.locator(".live-responses-table .response-col_description pre").first
    body.wait_for()
    assert '"name": "Reader"' in body.inner_text()
    assert seen["blocked"] == [] and seen["errors"] == []
    assert f"{base}/static/swagger-ui/swagger-ui-bundle.js" in seen["local"]


def test_graphiql_renders_and_runs_a_query_offline(server, page):
    base, key = server
    page, seen = page
    page.context.add_init_script(
        "localStorage.setItem('graphiql:headers', "
        f'JSON.stringify({{"Authorization": "Bearer {key}"}}))'
    )
    page.goto("/graphql")
    page.locator(".graphiql-query-editor .CodeMirror").wait_for()
    assert "datasets" in page.locator(".graphiql-query-editor").inner_text()
    page.locator(".graphiql-execute-button").click()
    result = page.locator(".graphiql-response .CodeMirror")
    result.get_by_text('"datasets"').wait_for()
    assert "error" not in result.inner_text().lower()
    assert seen["blocked"] == [] and seen["errors"] == []
    assert f"{base}/static/graphiql/graphiql.min.js" in seen["local"]
