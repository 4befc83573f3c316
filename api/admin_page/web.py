"""What every admin page shares: templates, the signed-in staff member, and form checks.

Staff sign in once with an admin API key; the server keeps a session in an HttpOnly,
SameSite=Strict cookie (Secure in production or over HTTPS) that expires, and every form
carries the session's CSRF token.
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

from api.deps import IdentityDep
from api.errors import AmaanError
from schema.access import Account, AdminSession, ApiKey
from schema.settings import Settings

STATIC = Path(__file__).parent / "static"
SIGN_IN_COOKIE = "amaan_sign_in"
SESSION_LIFETIME = timedelta(hours=8)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


class SignInRequired(Exception):
    """No valid staff session: the browser is sent to the sign-in page."""


class FormRefused(AmaanError):
    status = 403
    code = "csrf"


@dataclass
class Staff:
    account: Account
    key: ApiKey
    session: AdminSession


def staff(request: Request, identity: IdentityDep) -> Staff:
    signed_in: AdminSession | None = getattr(request.state, "admin_session", None)
    if identity is None or signed_in is None:
        raise SignInRequired
    return Staff(identity[0], identity[1], signed_in)


StaffDep = Annotated[Staff, Depends(staff)]
Csrf = Annotated[str, Form()]


def check_form(request: Request, who: Staff, token: str) -> None:
    """Refuse a form that does not carry this session's token or comes from another site."""
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.url.netloc:
        raise FormRefused("this form was sent from another site")
    if not token or not hmac.compare_digest(token, who.session.csrf_token):
        raise FormRefused("this form has expired or did not come from Amaan; reload the page")


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
