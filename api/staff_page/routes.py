"""The staff page's sign-in, overview, account, key and audit pages (``/admin``).

Actions go through the same staff services as the staff's REST API (``api.staff``), so they
are checked and audited the same way. A refused form is shown by ``refusals.show``.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from sqlalchemy.orm import Session

from api.deps import SessionDep, SettingsDep
from api.errors import AmaanError
from api.staff import accounts, budgets, records
from api.staff.common import Actor
from api.staff.common import epsilon as parse_epsilon
from api.staff_page import charts, sentences
from api.staff_page.forms import expiry, text_field
from api.staff_page.refusals import PageRoute, shown_on
from api.staff_page.web import (
    SESSION_COOKIE,
    SESSION_LIFETIME,
    SIGN_IN_COOKIE,
    Csrf,
    FormStaffDep,
    Staff,
    StaffDep,
    back,
    page,
    secure_cookies,
)
from schema.repositories import accounts as accounts_repo
from schema.repositories import audit
from schema.repositories import sessions as staff_sessions
from schema.settings import Settings

router = APIRouter(prefix="/admin", include_in_schema=False, route_class=PageRoute)
FormText = Annotated[str, Form()]


# Signing in and out.


def _cookie(
    response: Response, request: Request, settings: Settings, name: str, value: str, age: int
) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request, settings),
        path="/admin",
        max_age=age,
    )


@router.get("/sign-in")
def sign_in_form(request: Request, settings: SettingsDep) -> Response:
    token = secrets.token_urlsafe(24)
    response = page(request, "sign_in.html", None, csrf=token)
    _cookie(response, request, settings, SIGN_IN_COOKIE, token, 600)
    return response


@router.post("/sign-in")
def sign_in(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    key: FormText = "",
    csrf: Csrf = "",
) -> Response:
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    if not csrf or not expected or not hmac.compare_digest(csrf, expected):
        return page(request, "sign_in.html", None, 403, csrf=expected, problem="form_expired")
    found = accounts_repo.authenticate(session, key.strip())
    if found is None or found[0].role != "admin":
        audit.append(
            session,
            action="admin.sign_in",
            outcome="refused",
            account_id=found[0].id if found else None,
        )
        return page(request, "sign_in.html", None, 403, csrf=expected, problem="not_staff")
    account, api_key = found
    row, raw = staff_sessions.start(session, account, api_key, SESSION_LIFETIME)
    audit.append(
        session,
        action="admin.sign_in",
        outcome="signed_in",
        account_id=account.id,
        detail={"key_id": api_key.id, "session": row.id},
    )
    response = back("/admin")
    _cookie(response, request, settings, SESSION_COOKIE, raw, int(SESSION_LIFETIME.total_seconds()))
    response.delete_cookie(SIGN_IN_COOKIE, path="/admin")
    return response


@router.post("/sign-out")
def sign_out(session: SessionDep, who: FormStaffDep) -> Response:
    staff_sessions.end(session, who.session.id)
    audit.append(session, action="admin.sign_out", outcome="signed_out", account_id=who.account.id)
    response = back("/admin/sign-in")
    response.delete_cookie(SESSION_COOKIE, path="/admin")
    return response


# The overview.


@router.get("")
def overview(
    request: Request,
    session: SessionDep,
    who: StaffDep,
    by: charts.Period = "month",
    done: str | None = None,
) -> Response:
    data = budgets.overview(session)
    spending = []
    for dataset in data.datasets:
        chart = charts.spending(session, dataset.dataset, by)
        ident = f"spending-{dataset.dataset}"
        svg = charts.svg(chart, f"{ident}-title", f"{ident}-table")
        spending.append({"dataset": dataset.dataset, "chart": chart, "svg": svg, "id": ident})
    return page(request, "overview.html", who, overview=data, spending=spending, by=by, done=done)


@router.post("/datasets/{slug}/budget")
def set_cap(
    slug: str,
    session: SessionDep,
    who: FormStaffDep,
    cap: FormText = "",
    max_per_query: FormText = "",
    reason: FormText = "",
) -> Response:
    limits = budgets.DatasetLimits(
        parse_epsilon(cap, "cap"), parse_epsilon(max_per_query, "max per query")
    )
    budgets.set_dataset_budget(session, Actor(who.account), slug, limits, reason)
    return back("/admin?done=cap")


# Accounts and keys.


def _account(session: Session, account_id: int) -> dict[str, Any]:
    return {
        "account": accounts.view(session, account_id),
        "releases": records.releases_of(session, account_id),
        "datasets": budgets.dataset_slugs(session),
    }


def _account_again(session: Session, request: Request, who: Staff) -> tuple[str, dict[str, Any]]:
    return "account.html", _account(session, int(request.path_params["account_id"]))


@router.get("/accounts/{account_id}")
def account_page(
    account_id: int, request: Request, session: SessionDep, who: StaffDep, done: str | None = None
) -> Response:
    return page(request, "account.html", who, done=done, **_account(session, account_id))


@router.post("/accounts/{account_id}/budget")
@shown_on(_account_again)
def set_limit(
    account_id: int,
    session: SessionDep,
    who: FormStaffDep,
    dataset: FormText = "",
    epsilon: FormText = "",
    reason: FormText = "",
) -> Response:
    limit = parse_epsilon(epsilon, "limit")
    budgets.set_account_budget(session, Actor(who.account), account_id, dataset, limit, reason)
    return back(f"/admin/accounts/{account_id}?done=limit")


@router.post("/accounts/{account_id}/keys")
@shown_on(_account_again)
def issue_key(
    account_id: int,
    request: Request,
    session: SessionDep,
    who: FormStaffDep,
    label: FormText = "",
    expires: FormText = "",
) -> Response:
    """Another key for an account, shown once."""
    issued = accounts.issue_key(
        session,
        Actor(who.account),
        account_id,
        label=text_field(label, "label"),
        expires_at=expiry(expires),
    )
    owner = accounts.view(session, account_id)
    return page(request, "key.html", who, 201, owner=owner, issued=issued, created=False)


@router.get("/keys/{key_id}/revoke")
def confirm_revoke(key_id: int, request: Request, session: SessionDep, who: StaffDep) -> Response:
    key, owner = accounts.key_and_owner(session, key_id)
    return page(request, "revoke.html", who, key=key, owner=owner)


@router.post("/keys/{key_id}/revoke")
def revoke(key_id: int, session: SessionDep, who: FormStaffDep) -> Response:
    key = accounts.revoke_key(session, Actor(who.account), key_id)
    return back(f"/admin/accounts/{key.account_id}?done=revoked")


# The audit log.


def _filters(account: str, action: str, dataset: str) -> records.Filters:
    given = account.strip()
    if given and not (given.isascii() and given.isdigit() and len(given) <= 10):
        raise ValueError("account must be a number (0-9)")
    return records.Filters(
        account_id=int(given) if given else None,
        dataset=dataset or None,
        action=action or None,
        limit=200,
    )


@router.get("/audit")
def audit_page(
    request: Request,
    session: SessionDep,
    who: StaffDep,
    account: str = "",
    action: str = "",
    dataset: str = "",
) -> Response:
    """The newest entries, filtered; a filter that makes no sense is said so on the page."""
    error, entries = None, []
    try:
        entries = records.audit_log(session, _filters(account, action, dataset))
    except (ValueError, AmaanError) as exc:
        error = exc.message if isinstance(exc, AmaanError) else str(exc)
    names = {a.account_id: a.name for a in accounts.listed(session)}
    return page(
        request,
        "audit.html",
        who,
        entries=[(e, sentences.sentence(e, names)) for e in entries],
        verification=records.verify(session, seal=False),
        actions=records.audit_actions(session),
        datasets=budgets.dataset_slugs(session),
        chosen={"account": account, "action": action, "dataset": dataset},
        error=error,
    )
