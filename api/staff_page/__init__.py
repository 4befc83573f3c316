"""The staff's budget review page (``/admin``): Jinja2 templates, one stylesheet and one
small script of its own (``copy.js``, the copy button of a new key; the page works without).

Its own surface: its credential is the staff session's cookie (``web``), its refusals are
pages (``refusals``), and its responses carry a strict CSP and cannot be framed. ``mount``
puts it on the app.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.staff_page import accounts, refusals, releases, routes, summaries
from api.staff_page.web import STATIC, session_cookie
from api.surfaces import Surface

# The page loads nothing from any other host, runs no inline script, only its own file, and
# cannot be framed.
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SURFACE = Surface(
    prefix="/admin",
    credential=session_cookie,
    group="admin",
    unchecked=("/static/",),
    headers=(("Content-Security-Policy", POLICY), ("X-Frame-Options", "DENY")),
)


def mount(app: FastAPI) -> None:
    """The page's routes, its stylesheet and its one exception handler."""
    app.include_router(routes.router)
    app.include_router(releases.router)
    app.include_router(accounts.router)
    app.include_router(summaries.router)
    app.mount("/admin/static", StaticFiles(directory=STATIC), name="admin-static")
    app.add_exception_handler(refusals.Refused, refusals.show)
