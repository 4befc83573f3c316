"""What every page of the staff's site shares: its credential and dependencies, templates,
and form checks.

Staff sign in once with an admin API key; the server keeps a session in an HttpOnly,
SameSite=Strict cookie on ``/admin`` (Secure in production or over HTTPS) that expires, and
every form carries the session's CSRF token. The cookie is the page's credential and only
the page's: the API takes a bearer key (``api.deps.bearer``) and never the cookie.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.deps import Identity, lookup
from api.errors import FormRefused, SignInRequired
from schema.access import Account, AdminSession, ApiKey
from schema.repositories import sessions as staff_sessions
from schema.settings import Settings

STATIC = Path(__file__).parent / "static"
SESSION_COOKIE = "amaan_admin"
SIGN_IN_COOKIE = "amaan_sign_in"
SESSION_LIFETIME = timedelta(hours=8)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


@dataclass
class Staff:
    account: Account
    key: ApiKey
    session: AdminSession


def session_cookie(session: Session, request: Request) -> Identity | None:
    """The page's credential: the staff session named by the cookie, while it and its key
    are valid and staff."""
    found = staff_sessions.find(session, request.cookies.get(SESSION_COOKIE, ""))
    request.state.staff_session = found[0] if found else None
    return (found[1], found[2]) if found else None


def signed_in(request: Request) -> Staff | None:
    """The staff member the request's session cookie names, as looked up for this request."""
    state = request.scope.get("state", {})
    identity, row = state.get("identity"), state.get("staff_session")
    if state.get("credential") is not session_cookie or identity is None or row is None:
        return None
    return Staff(identity[0], identity[1], row)


async def staff(request: Request) -> Staff:
    """The signed-in staff member, as ``api.rate_limits.Checks`` found them (looked up here
    when it did not)."""
    if request.scope.get("state", {}).get("credential") is not session_cookie:
        await run_in_threadpool(lookup, request, session_cookie)
    who = signed_in(request)
    if who is None:
        raise SignInRequired("sign in first")
    return who


StaffDep = Annotated[Staff, Depends(staff)]
Csrf = Annotated[str, Form()]


async def form_staff(request: Request, who: StaffDep, csrf: Csrf = "") -> Staff:
    """The staff member behind a form, which must carry this session's token and come from
    this site."""
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.url.netloc:
        raise FormRefused("this form was sent from another site")
    if not csrf or not hmac.compare_digest(csrf, who.session.csrf_token):
        raise FormRefused("this form has expired or did not come from Amaan; reload the page")
    return who


FormStaffDep = Annotated[Staff, Depends(form_staff)]


def secure_cookies(request: Request, settings: Settings) -> bool:
    return request.url.scheme == "https" or settings.environment == "production"


def page(
    request: Request, name: str, who: Staff | None, status: int = 200, **context: Any
) -> HTMLResponse:
    context |= {"staff": who.account if who else None}
    context["csrf"] = who.session.csrf_token if who else context.get("csrf", "")
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def back(url: str) -> RedirectResponse:
    """After a form: see the result with GET (303)."""
    return RedirectResponse(url, status_code=303)
