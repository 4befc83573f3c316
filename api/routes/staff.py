"""The staff's REST API (``/v1/admin``, role ``admin``): accounts, keys, grants, budgets,
published extracts, the ledger and the audit log. Each change is audited with who made it.

Routes parse, call one staff service (``api.staff``) or the release pipeline, and return its
typed result; the response models (``staff_models``) say how it looks as JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from api import answers, pages
from api.deps import PrincipalDep, SessionDep, SettingsDep, end_read
from api.errors import Forbidden
from api.routes import staff_models as m
from api.routes.queries import to_query
from api.schemas import Cursor, Limit
from api.staff import accounts, budgets, publications, records
from api.staff.common import Actor, epsilon
from api.summaries import partners
from api.summaries import views as summaries
from schema.access import Account
from schema.repositories.audit_verify import Verification


def require_admin(principal: PrincipalDep) -> Account:
    if principal.role != "admin":
        raise Forbidden("this route is for helpline staff (role admin)")
    return principal


StaffDep = Annotated[Account, Depends(require_admin)]
router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])

MAX_ID = 2**31 - 1
AccountId = Annotated[int, Path(ge=1, le=MAX_ID, description="account id")]
KeyId = Annotated[int, Path(ge=1, le=MAX_ID, description="key id")]
PublicationId = Annotated[int, Path(ge=1, le=MAX_ID, description="publication id")]
CREATED = status.HTTP_201_CREATED


def _page_of(
    rows: Sequence[Any], page: pages.Page, part: str, id_of: str
) -> tuple[list[Any], str | None]:
    """The rows of a page read with ``limit + 1`` rows, and its ``next`` cursor."""
    positions = [pages.Position(part, getattr(r, id_of)) for r in rows]
    return list(rows[: page.limit]), pages.next_cursor(positions, page)


# Accounts and keys.


@router.post("/accounts", status_code=CREATED, response_model=m.IssuedKeyOut)
def create_account(body: m.AccountIn, session: SessionDep, staff: StaffDep) -> accounts.IssuedKey:
    """Create an account, its grants and budgets, and its first key (shown once)."""
    return accounts.create_account(
        session,
        Actor(staff),
        name=body.name,
        role=body.role,
        organisation=body.organisation,
        datasets=body.datasets,
        budget=None if body.budget is None else epsilon(body.budget, "budget"),
        expires_at=body.expires_at,
    )


@router.get("/accounts", response_model=m.AccountPage)
def list_accounts(session: SessionDep, limit: Limit = None, cursor: Cursor = None) -> m.AccountPage:
    """Every account (partners, researchers and staff), by id; a page at a time."""
    page = pages.parse(limit, cursor, ("account",))
    after = None if page.after is None else page.after.id
    rows, following = _page_of(
        accounts.listed(session, after, page.limit + 1), page, "account", "account_id"
    )
    return m.AccountPage(items=[m.AccountOut.model_validate(r) for r in rows], next=following)


@router.get("/accounts/{account_id}", response_model=m.AccountViewOut)
def get_account(account_id: AccountId, session: SessionDep) -> accounts.AccountView:
    """An account with its grants, keys (never the keys themselves) and budgets."""
    return accounts.view(session, account_id)


@router.patch("/accounts/{account_id}", response_model=m.AccountViewOut)
def update_account(
    account_id: AccountId, body: m.AccountPatch, session: SessionDep, staff: StaffDep
) -> accounts.AccountView:
    """Rename, move or deactivate (``active: false``) an account; its keys stop at once."""
    return accounts.update_account(
        session,
        Actor(staff),
        account_id,
        name=body.name,
        organisation=body.organisation,
        active=body.active,
    )


@router.post("/accounts/{account_id}/keys", status_code=CREATED, response_model=m.IssuedKeyOut)
def issue_key(
    account_id: AccountId, body: m.KeyIn, session: SessionDep, staff: StaffDep
) -> accounts.IssuedKey:
    return accounts.issue_key(
        session, Actor(staff), account_id, label=body.label, expires_at=body.expires_at
    )


@router.post("/keys/{key_id}/revoke", response_model=m.RevokedKeyOut)
def revoke_key(key_id: KeyId, session: SessionDep, staff: StaffDep) -> accounts.KeySummary:
    return accounts.revoke_key(session, Actor(staff), key_id)


@router.put("/accounts/{account_id}/grants/{dataset}", status_code=status.HTTP_204_NO_CONTENT)
def grant(account_id: AccountId, dataset: str, session: SessionDep, staff: StaffDep) -> None:
    accounts.set_grant(session, Actor(staff), account_id, dataset, True)


@router.delete("/accounts/{account_id}/grants/{dataset}", status_code=status.HTTP_204_NO_CONTENT)
def remove_grant(account_id: AccountId, dataset: str, session: SessionDep, staff: StaffDep) -> None:
    accounts.set_grant(session, Actor(staff), account_id, dataset, False)


# Budgets.


@router.get("/budgets", response_model=m.OverviewOut)
def overview(session: SessionDep) -> budgets.Overview:
    """Every dataset's cap, spent and remaining; every account's limit, spent, remaining,
    releases and cache hits, those at 80% or more of their limit first."""
    return budgets.overview(session)


@router.put("/accounts/{account_id}/budget", response_model=m.LimitChangeOut)
def set_account_budget(
    account_id: AccountId, body: m.AccountBudgetIn, session: SessionDep, staff: StaffDep
) -> budgets.LimitChange:
    """Set an account's limit on a dataset, with a written reason (audited)."""
    limit = epsilon(body.epsilon, "epsilon")
    return budgets.set_account_budget(
        session, Actor(staff), account_id, body.dataset, limit, body.reason
    )


@router.put("/datasets/{dataset}/budget", response_model=m.DatasetChangeOut)
def set_dataset_budget(
    dataset: str, body: m.DatasetBudgetIn, session: SessionDep, staff: StaffDep
) -> budgets.DatasetChange:
    """Set a dataset's global cap and per-query maximum, with a written reason (audited)."""
    limits = budgets.DatasetLimits(
        epsilon(body.cap, "cap"), epsilon(body.max_per_query, "max_per_query")
    )
    return budgets.set_dataset_budget(session, Actor(staff), dataset, limits, body.reason)


# Published extracts.


def _published(session: SessionDep, released: answers.Released) -> publications.PublicationView:
    assert released.publication is not None
    return publications.describe(session, released.publication, released.epsilon_charged)


@router.post("/releases", status_code=CREATED, response_model=m.PublicationOut)
def publish(
    body: m.PublishIn, session: SessionDep, staff: StaffDep, settings: SettingsDep
) -> publications.PublicationView:
    """Publish a named extract to partners: released once, charged to the dataset's cap."""
    extract = publications.Extract(
        title=body.title,
        description=body.description,
        query=to_query(body.query),
        audience=body.audience,
        rounding=body.rounding,
        margins=body.margins,
    )
    return _published(session, answers.answer(session, staff, answers.Publish(extract), settings))


@router.get("/releases", response_model=m.PublicationPage)
def list_publications(
    session: SessionDep, limit: Limit = None, cursor: Cursor = None
) -> m.PublicationPage:
    """Every published extract, newest first, with its audience, ε and downloads; a page at
    a time."""
    page = pages.parse(limit, cursor, ("publication",))
    before = None if page.after is None else page.after.id
    found = publications.described(session, page.limit + 1, before)
    rows, following = _page_of(found, page, "publication", "publication_id")
    return m.PublicationPage(
        items=[m.PublicationOut.model_validate(r) for r in rows], next=following
    )


@router.post(
    "/releases/{publication_id}/republish", status_code=CREATED, response_model=m.PublicationOut
)
def republish(
    publication_id: PublicationId, session: SessionDep, staff: StaffDep, settings: SettingsDep
) -> publications.PublicationView:
    """Publish an extract again for the dataset's newest version (charged anew); the old
    release stays downloadable."""
    ask = answers.Republish(publication_id)
    return _published(session, answers.answer(session, staff, ask, settings))


# Summaries: measured once, answered from for free.


@router.post("/summaries", status_code=CREATED, response_model=m.SummaryOut)
def publish_summary(
    body: m.SummaryIn, session: SessionDep, staff: StaffDep, settings: SettingsDep
) -> summaries.SummaryView:
    """Publish a summary of a dataset's newest version from a template, charged to the
    dataset's cap; a later version measures only its new months (extending the series)."""
    ask = answers.Summarise(body.dataset, body.template, body.epsilon, body.year)
    return summaries.published(answers.answer(session, staff, ask, settings))


@router.get("/summaries", response_model=m.SummaryPage)
def list_summaries(
    session: SessionDep,
    staff: StaffDep,
    dataset: Annotated[str, Query(min_length=1, max_length=64, description="dataset slug")],
    limit: Limit = None,
    cursor: Cursor = None,
) -> m.SummaryPage:
    """The summaries of a dataset, newest first, with the ε each charged; a page at a time."""
    page = pages.parse(limit, cursor, ("summary",))
    rows, following = summaries.listed(session, staff, dataset, page)
    return m.SummaryPage(items=[m.SummaryOut.model_validate(r) for r in rows], next=following)


@router.post("/summaries/{release_id}/publish", status_code=CREATED, response_model=m.ReportOut)
def publish_report(
    release_id: Annotated[str, Path(max_length=64, description="the summary's release id")],
    body: m.ReportIn,
    session: SessionDep,
    staff: StaffDep,
) -> partners.ReportView:
    """Publish the annual report of an ``annual-report`` summary to partners under a title
    (spends nothing: the summary was charged when published); they download it from
    ``/v1/reports/{release_id}``."""
    return partners.publish(session, staff, release_id, body.title, body.description, body.audience)


# The ledger and the audit log.


def _filters(
    account: Annotated[int | None, Query(ge=1, le=MAX_ID, description="account id")] = None,
    dataset: Annotated[str | None, Query(description="dataset slug")] = None,
    since: Annotated[datetime | None, Query(description="from this moment (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="before this moment")] = None,
    action: Annotated[str | None, Query(max_length=32, description="audit action")] = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> tuple[records.Filters, pages.Page]:
    page = pages.parse(limit, cursor, ("entry",))
    before = None if page.after is None else page.after.id
    return records.Filters(account, dataset, since, until, action, page.limit + 1, before), page


FiltersDep = Annotated[tuple[records.Filters, pages.Page], Depends(_filters)]
TableFormat = Annotated[Literal["json", "csv"], Query()]
CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}}}}


def _csv(
    request: Request,
    rows: list[records.Charge] | list[records.AuditRecord],
    following: str | None,
    name: str,
) -> Response:
    """A page as CSV; the next page's address in a ``Link: <...>; rel="next"`` header (none
    on the last page), the same query with ``cursor`` set to the next cursor."""
    columns = records.LEDGER_COLUMNS if name == "ledger" else records.AUDIT_COLUMNS
    headers = {"Content-Disposition": f'attachment; filename="amaan_{name}.csv"'}
    if following is not None:
        query = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
        address = request.url.replace(query=urlencode([*query, ("cursor", following)]))
        headers["Link"] = f'<{address}>; rel="next"'
    return Response(
        records.as_csv(columns, rows).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers=headers,
    )


@router.get("/ledger", response_model=m.ChargePage, responses=CSV)
def ledger(
    request: Request, session: SessionDep, filters: FiltersDep, format: TableFormat = "json"
) -> m.ChargePage | Response:
    """Every charge of privacy loss, newest first; filter by account, dataset and time; a
    page at a time (as CSV, the next page's address is in the ``Link`` header)."""
    wanted, page = filters
    rows, following = _page_of(records.ledger(session, wanted), page, "entry", "id")
    if format == "csv":
        return _csv(request, rows, following, "ledger")
    return m.ChargePage(items=[m.ChargeOut.model_validate(r) for r in rows], next=following)


@router.get("/audit", response_model=m.AuditPage, responses=CSV)
def audit_log(
    request: Request, session: SessionDep, filters: FiltersDep, format: TableFormat = "json"
) -> m.AuditPage | Response:
    """The audit log, newest first; filter by account, dataset, action and time; a page at a
    time (as CSV, the next page's address is in the ``Link`` header)."""
    wanted, page = filters
    rows, following = _page_of(records.audit_log(session, wanted), page, "entry", "id")
    if format == "csv":
        return _csv(request, rows, following, "audit")
    return m.AuditPage(items=[m.AuditRecordOut.model_validate(r) for r in rows], next=following)


@router.get("/audit/verify", response_model=m.VerificationOut)
def audit_verify(session: SessionDep) -> Verification:
    """Seal what is committed, then verify the chain and recompute every budget from it: ok,
    how many entries, those still unsealed, and where it breaks if it does."""
    end_read(session)
    return records.verify(session)
