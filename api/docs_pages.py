"""The API's documentation pages, served whole by Amaan: Swagger UI at ``/docs`` and GraphiQL
at ``/graphql`` (development only), with their scripts and stylesheets pinned in
``api/static`` (see its README) instead of loaded from a CDN, so they work offline and no
request of a staff member's or researcher's browser leaves the host.

The OpenAPI document declares the bearer scheme (``BEARER``, a dependency of every ``/v1``
route), so Swagger UI's "Authorize" sends ``Authorization: Bearer <key>``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPBearer
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
ASSETS = "/static"
GRAPHIQL_PAGE = (Path(__file__).parent / "gql" / "graphiql.html").read_text("utf-8")

# Only declares the scheme: ``api.deps`` reads the key (the same 401 for every bad one).
BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An Amaan API key: `Authorization: Bearer <key>`.",
)


def policy(scripts: str) -> str:
    """The pages' Content-Security-Policy: the browser itself refuses anything from another
    host (styles may be inline: both libraries set style attributes)."""
    return (
        f"default-src 'none'; script-src {scripts}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


def inline_scripts(html: str) -> str:
    """``'self'`` and the digest of each inline script of ``html`` (FastAPI's Swagger page
    starts Swagger UI with one), so no other inline script can run."""
    digests = [
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    ]
    return " ".join(["'self'", *digests])


def graphiql_page() -> HTMLResponse:
    csp = {"Content-Security-Policy": policy("'self'")}
    return HTMLResponse(GRAPHIQL_PAGE, headers=csp)


def mount(app: FastAPI, *, swagger: bool, graphiql: bool) -> None:
    """Swagger UI at ``/docs`` when the API docs are on; the pinned assets when either page
    is served (they are public code, never data)."""
    if not (swagger or graphiql):
        return
    app.mount(ASSETS, StaticFiles(directory=STATIC), name="static")
    if not swagger:
        return
    openapi_url = app.openapi_url or "/openapi.json"

    page = get_swagger_ui_html(
        openapi_url=openapi_url,
        title=f"{app.title}: API docs",
        swagger_js_url=f"{ASSETS}/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/swagger-ui/favicon-32x32.png",
        # No badge from the online validator (validator.swagger.io).
        swagger_ui_parameters={"validatorUrl": None},
    )
    html = bytes(page.body).decode("utf-8")
    csp = {"Content-Security-Policy": policy(inline_scripts(html))}

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(html, headers=csp)
