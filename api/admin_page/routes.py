"""The staff's budget review page, ``/admin``: server-rendered, no script needed.

Actions go through the same functions as the admin API (``api.admin``,
``api.publications``), so they are checked and audited the same way.
"""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api import admin, answers, publications
from api.admin import Actor, Filters
from api.admin_page import charts
from api.admin_page.forms import ExtractForm, FormDep
from api.admin_page.web import (
    SESSION_LIFETIME,
    SIGN_IN_COOKIE,
    Csrf,
    Staff,
    StaffDep,
    back,
    check_form,
    page,
    secure_cookies,
)
from api.deps import ADMIN_COOKIE, SessionDep, SettingsDep
from api.errors import AmaanError
from privacy import Epsilon
from schema.access import Account, ApiKey, AuditEntry, Release
from schema.codelists import codelists
from schema.models import DIMENSIONS, Dataset
from schema.repositories import accounts, audit
from schema.repositories import sessions as admin_sessions

router = APIRouter(prefix="/admin", include_in_schema=False)


# Signing in and out.


@router.get("/sign-in")
def sign_in_form(request: Request, settings: SettingsDep) -> Response:
    token = secrets.token_urlsafe(24)
    response = page(request, "sign_in.html", None, csrf=token)
    response.set_cookie(
        SIGN_IN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request, settings),
        path="/admin",
        max_age=600,
    )
    return response


@router.post("/sign-in")
def sign_in(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    key: Annotated[str, Form()] = "",
    csrf: Csrf = "",
) -> Response:
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    if not csrf or not expected or not hmac.compare_digest(csrf, expected):
        return page(request, "sign_in.html", None, 403, csrf=expected, problem="form_expired")
    found = accounts.authenticate(session, key.strip())
    if found is None or found[0].role != "admin":
        audit.append(
            session,
            action="admin.sign_in",
            outcome="refused",
            account_id=found[0].id if found else None,
        )
        return page(request, "sign_in.html", None, 403, csrf=expected, problem="not_staff")
    account, api_key = found
    row, raw = admin_sessions.start(session, account, api_key, SESSION_LIFETIME)
    audit.append(
        session,
        action="admin.sign_in",
        outcome="signed_in",
        account_id=account.id,
        detail={"key_id": api_key.id, "session": row.id},
    )
    response = back("/admin")
    response.set_cookie(
        ADMIN_COOKIE,
        raw,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request, settings),
        path="/admin",
        max_age=int(SESSION_LIFETIME.total_seconds()),
    )
    response.delete_cookie(SIGN_IN_COOKIE, path="/admin")
    return response


@router.post("/sign-out")
def sign_out(request: Request, session: SessionDep, who: StaffDep, csrf: Csrf = "") -> Response:
    check_form(request, who, csrf)
    admin_sessions.end(session, who.session.id)
    audit.append(session, action="admin.sign_out", outcome="signed_out", account_id=who.account.id)
    response = back("/admin/sign-in")
    response.delete_cookie(ADMIN_COOKIE, path="/admin")
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
    data = admin.overview(session)
    spending = []
    for dataset in session.scalars(select(Dataset).order_by(Dataset.slug)):
        chart = charts.spending(session, dataset.id, by)
        ident = f"spending-{dataset.slug}"
        spending.append(
            {
                "dataset": dataset.slug,
                "chart": chart,
                "svg": charts.svg(chart, f"{ident}-title", f"{ident}-table"),
                "id": ident,
            }
        )
    return page(request, "overview.html", who, overview=data, spending=spending, by=by, done=done)


@router.post("/datasets/{slug}/budget")
def set_cap(
    slug: str,
    request: Request,
    session: SessionDep,
    who: StaffDep,
    cap: Annotated[str, Form()] = "",
    max_per_query: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    csrf: Csrf = "",
) -> Response:
    check_form(request, who, csrf)
    try:
        admin.set_dataset_budget(
            session,
            Actor(who.account),
            slug,
            admin.epsilon(cap, "cap"),
            admin.epsilon(max_per_query, "max per query"),
            reason,
        )
    except AmaanError as exc:
        session.rollback()
        return page(request, "message.html", who, exc.status, error=exc.message, back="/admin")
    return back("/admin?done=cap")


# Accounts.


def _account_context(session: Session, account_id: int) -> dict[str, Any]:
    view = admin.account_view(session, account_id)
    own = session.scalars(
        select(Release)
        .where(Release.account_id == account_id)
        .order_by(Release.id.desc())
        .limit(100)
    ).all()
    hits = dict(
        session.execute(
            select(AuditEntry.canonical_key, func.count())
            .where(
                AuditEntry.canonical_key.in_([r.canonical_key for r in own]),
                AuditEntry.outcome == "cache_hit",
            )
            .group_by(AuditEntry.canonical_key)
        ).all()
    )
    rows = []
    for r in own:
        form = json.loads(r.query)
        rows.append(
            {
                "release_id": r.public_id,
                "at": r.created_at,
                "kind": r.kind,
                "group_by": ", ".join(form["group_by"]),
                "filters": "; ".join(f"{k}: {', '.join(v)}" for k, v in form["filters"].items()),
                "epsilon": str(Epsilon(r.epsilon_micro)),
                "cache_hits": hits.get(r.canonical_key, 0),
            }
        )
    datasets = session.scalars(select(Dataset.slug).order_by(Dataset.slug)).all()
    return {"account": view, "releases": rows, "datasets": datasets}


@router.get("/accounts/{account_id}")
def account_page(
    account_id: int, request: Request, session: SessionDep, who: StaffDep, done: str | None = None
) -> Response:
    try:
        context = _account_context(session, account_id)
    except AmaanError as exc:
        return page(request, "message.html", who, exc.status, error=exc.message, back="/admin")
    return page(request, "account.html", who, done=done, **context)


@router.post("/accounts/{account_id}/budget")
def set_limit(
    account_id: int,
    request: Request,
    session: SessionDep,
    who: StaffDep,
    dataset: Annotated[str, Form()] = "",
    epsilon: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    csrf: Csrf = "",
) -> Response:
    check_form(request, who, csrf)
    try:
        admin.set_account_budget(
            session,
            Actor(who.account),
            account_id,
            dataset,
            admin.epsilon(epsilon, "limit"),
            reason,
        )
    except AmaanError as exc:
        session.rollback()
        context = _account_context(session, account_id)
        return page(request, "account.html", who, exc.status, error=exc.message, **context)
    return back(f"/admin/accounts/{account_id}?done=limit")


@router.get("/keys/{key_id}/revoke")
def confirm_revoke(key_id: int, request: Request, session: SessionDep, who: StaffDep) -> Response:
    key = session.get(ApiKey, key_id)
    if key is None:
        return page(request, "message.html", who, 404, error=f"no key {key_id}", back="/admin")
    owner = session.get(Account, key.account_id)
    return page(request, "revoke.html", who, key=key, owner=owner)


@router.post("/keys/{key_id}/revoke")
def revoke(
    key_id: int, request: Request, session: SessionDep, who: StaffDep, csrf: Csrf = ""
) -> Response:
    check_form(request, who, csrf)
    try:
        key = admin.revoke_key(session, Actor(who.account), key_id)
    except AmaanError as exc:
        session.rollback()
        return page(request, "message.html", who, exc.status, error=exc.message, back="/admin")
    return back(f"/admin/accounts/{key.account_id}?done=revoked")


# Published extracts.


def _releases_context(session: Session) -> dict[str, Any]:
    partners = session.scalars(
        select(Account)
        .where(Account.role == "partner", Account.active.is_(True))
        .order_by(Account.name)
    ).all()
    lists = codelists()
    return {
        "publications": publications.described(session, limit=200),
        "datasets": session.scalars(select(Dataset.slug).order_by(Dataset.slug)).all(),
        "dimensions": list(DIMENSIONS),
        "filter_dimensions": [d for d in DIMENSIONS if d in lists.dimensions],
        "partners": partners,
    }


@router.get("/releases")
def releases_page(
    request: Request, session: SessionDep, who: StaffDep, done: str | None = None
) -> Response:
    return page(request, "releases.html", who, done=done, **_releases_context(session))


@router.post("/releases/estimate")
def estimate_extract(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    who: StaffDep,
    form: FormDep,
    csrf: Csrf = "",
) -> Response:
    """Step one of publishing: what it would cost; nothing is spent."""
    check_form(request, who, csrf)
    try:
        extract = form.extract()
        query = replace(extract.query, rounding=extract.rounding, margins=extract.margins)
        costed = answers.answer(session, who.account, answers.Estimate(query), settings)
    except AmaanError as exc:
        return _refused(request, session, who, form, exc)
    plan = costed.prepared.plan
    return page(
        request,
        "estimate.html",
        who,
        form=form,
        epsilon=str(plan.epsilon),
        margin_of_error=plan.margin_of_error,
        cells=plan.cells,
        cached=costed.cached,
    )


@router.post("/releases")
def publish_extract(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    who: StaffDep,
    form: FormDep,
    csrf: Csrf = "",
) -> Response:
    """Step two: publish (charged to the dataset's cap)."""
    check_form(request, who, csrf)
    try:
        answers.answer(session, who.account, answers.Publish(form.extract()), settings)
    except AmaanError as exc:
        return _refused(request, session, who, form, exc)
    return back("/admin/releases?done=published")


def _refused(
    request: Request, session: Session, who: Staff, form: ExtractForm, exc: AmaanError
) -> Response:
    """The releases page with why publishing was refused. A refusal the release service
    recorded keeps its audit entry; anything else of the request is undone."""
    if not exc.recorded:
        session.rollback()
    context = _releases_context(session)
    return page(request, "releases.html", who, exc.status, error=exc.message, form=form, **context)


# The audit log.


@router.get("/audit")
def audit_page(
    request: Request,
    session: SessionDep,
    who: StaffDep,
    account: str = "",
    action: str = "",
    dataset: str = "",
) -> Response:
    error = None
    try:
        given = account.strip()
        if given and not (given.isascii() and given.isdigit() and len(given) <= 10):
            raise ValueError(account)
        filters = Filters(
            account_id=int(account) if account.strip() else None,
            dataset=dataset or None,
            action=action or None,
            limit=200,
        )
        entries = admin.audit_log(session, filters)
    except (ValueError, AmaanError) as exc:
        error = exc.message if isinstance(exc, AmaanError) else "account must be a number (0-9)"
        entries = []
    actions = session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action))
    return page(
        request,
        "audit.html",
        who,
        entries=entries,
        verification=audit.verify(session),
        actions=list(actions),
        datasets=session.scalars(select(Dataset.slug).order_by(Dataset.slug)).all(),
        chosen={"account": account, "action": action, "dataset": dataset},
        error=error,
    )
