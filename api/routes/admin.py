"""The staff's admin API (``/v1/admin``, role ``admin``): accounts, keys, grants, budgets,
published extracts, the ledger and the audit log. Each change is audited with who made it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from api import admin, answers, extracts, publications
from api.admin import Actor, Filters
from api.deps import PrincipalDep, SessionDep, SettingsDep
from api.errors import Forbidden
from api.routes.queries import to_query
from api.schemas import QueryIn
from privacy import Epsilon
from schema.access import Account, Publication
from schema.repositories import audit


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
EpsilonIn = Annotated[str | float, Field(description="ε as a decimal, e.g. 1.0")]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountIn(Body):
    name: str = Field(min_length=1, max_length=200)
    role: Literal["researcher", "partner", "admin"]
    organisation: str = Field(default="", max_length=200)
    datasets: list[str] = Field(default_factory=list, max_length=50)
    budget: EpsilonIn | None = None
    expires_at: datetime | None = None


class AccountPatch(Body):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    organisation: str | None = Field(default=None, max_length=200)
    active: bool | None = None


class KeyIn(Body):
    label: str = Field(default="", max_length=200)
    expires_at: datetime | None = None


class IssuedKey(BaseModel):
    account_id: int
    key_id: int
    key: str = Field(description="shown once; only its hash is kept")


class AccountBudgetIn(Body):
    dataset: str
    epsilon: EpsilonIn
    reason: str = Field(min_length=1, max_length=1000)


class DatasetBudgetIn(Body):
    cap: EpsilonIn
    max_per_query: EpsilonIn
    reason: str = Field(min_length=1, max_length=1000)


class PublishIn(Body):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    query: QueryIn
    audience: list[str | int] = Field(min_length=1, max_length=1000)
    rounding: int = Field(default=5, ge=1, le=1000)
    margins: bool = False


class PublicationOut(BaseModel):
    publication_id: int
    release_id: str
    title: str
    description: str
    dataset: str
    dataset_version: int
    epsilon: str
    epsilon_charged: str
    audience: list[str | int]
    rounding: int
    margins: bool
    replaces: int | None
    downloads: int
    published_at: datetime


def _publication_out(
    session: SessionDep, publication: Publication, charged: str | None = None
) -> PublicationOut:
    return PublicationOut(**publications.describe(session, publication, charged))


# Accounts and keys.


@router.post("/accounts", status_code=status.HTTP_201_CREATED, response_model=IssuedKey)
def create_account(body: AccountIn, session: SessionDep, staff: StaffDep) -> IssuedKey:
    """Create an account, its grants and budgets, and its first key (shown once)."""
    budget = admin.epsilon(body.budget, "budget") if body.budget is not None else None
    account, key, raw = admin.create_account(
        session,
        Actor(staff),
        name=body.name,
        role=body.role,
        organisation=body.organisation,
        datasets=body.datasets,
        budget=budget,
        expires_at=body.expires_at,
    )
    return IssuedKey(account_id=account.id, key_id=key.id, key=raw)


@router.get("/accounts")
def list_accounts(session: SessionDep) -> list[dict[str, Any]]:
    return [
        {
            "account_id": a.id,
            "name": a.name,
            "organisation": a.organisation,
            "role": a.role,
            "active": a.active,
            "created_at": a.created_at.isoformat(),
        }
        for a in session.scalars(select(Account).order_by(Account.id))
    ]


@router.get("/accounts/{account_id}")
def get_account(account_id: AccountId, session: SessionDep) -> dict[str, Any]:
    """An account with its grants, keys (never the keys themselves) and budgets."""
    return admin.account_view(session, account_id)


@router.patch("/accounts/{account_id}")
def update_account(
    account_id: AccountId, body: AccountPatch, session: SessionDep, staff: StaffDep
) -> dict[str, Any]:
    """Rename, move or deactivate (``active: false``) an account; its keys stop at once."""
    admin.update_account(
        session,
        Actor(staff),
        account_id,
        name=body.name,
        organisation=body.organisation,
        active=body.active,
    )
    return admin.account_view(session, account_id)


@router.post(
    "/accounts/{account_id}/keys", status_code=status.HTTP_201_CREATED, response_model=IssuedKey
)
def issue_key(
    account_id: AccountId, body: KeyIn, session: SessionDep, staff: StaffDep
) -> IssuedKey:
    key, raw = admin.issue_key(
        session, Actor(staff), account_id, label=body.label, expires_at=body.expires_at
    )
    return IssuedKey(account_id=account_id, key_id=key.id, key=raw)


@router.post("/keys/{key_id}/revoke")
def revoke_key(key_id: KeyId, session: SessionDep, staff: StaffDep) -> dict[str, Any]:
    key = admin.revoke_key(session, Actor(staff), key_id)
    assert key.revoked_at is not None
    return {"key_id": key.id, "account_id": key.account_id, "revoked_at": key.revoked_at}


@router.put("/accounts/{account_id}/grants/{dataset}", status_code=status.HTTP_204_NO_CONTENT)
def grant(account_id: AccountId, dataset: str, session: SessionDep, staff: StaffDep) -> None:
    admin.set_grant(session, Actor(staff), account_id, dataset, True)


@router.delete("/accounts/{account_id}/grants/{dataset}", status_code=status.HTTP_204_NO_CONTENT)
def remove_grant(account_id: AccountId, dataset: str, session: SessionDep, staff: StaffDep) -> None:
    admin.set_grant(session, Actor(staff), account_id, dataset, False)


# Budgets.


@router.get("/budgets")
def budgets(session: SessionDep) -> dict[str, Any]:
    """Every dataset's cap, spent and remaining; every account's limit, spent, remaining,
    releases and cache hits, those at 80% or more of their limit first."""
    return admin.overview(session)


@router.put("/accounts/{account_id}/budget")
def set_account_budget(
    account_id: AccountId, body: AccountBudgetIn, session: SessionDep, staff: StaffDep
) -> dict[str, Any]:
    """Set an account's limit on a dataset, with a written reason (audited)."""
    old, new = admin.set_account_budget(
        session,
        Actor(staff),
        account_id,
        body.dataset,
        admin.epsilon(body.epsilon, "epsilon"),
        body.reason,
    )
    return {
        "account_id": account_id,
        "dataset": body.dataset.strip().lower(),
        "old": None if old is None else str(Epsilon(old)),
        "new": str(Epsilon(new)),
    }


@router.put("/datasets/{dataset}/budget")
def set_dataset_budget(
    dataset: str, body: DatasetBudgetIn, session: SessionDep, staff: StaffDep
) -> dict[str, Any]:
    """Set a dataset's global cap and per-query maximum, with a written reason (audited)."""
    cap = admin.epsilon(body.cap, "cap")
    per_query = admin.epsilon(body.max_per_query, "max_per_query")
    old = admin.set_dataset_budget(session, Actor(staff), dataset, cap, per_query, body.reason)
    return {
        "dataset": dataset.strip().lower(),
        "old": {k.removesuffix("_micro"): str(Epsilon(v)) for k, v in old.items()},
        "new": {"cap": str(cap), "max_per_query": str(per_query)},
    }


# Published extracts.


@router.post("/releases", status_code=status.HTTP_201_CREATED, response_model=PublicationOut)
def publish(
    body: PublishIn, session: SessionDep, staff: StaffDep, settings: SettingsDep
) -> PublicationOut:
    """Publish a named extract to partners: released once, charged to the dataset's cap."""
    extract = publications.Extract(
        title=body.title,
        description=body.description,
        query=to_query(body.query),
        audience=body.audience,
        rounding=body.rounding,
        margins=body.margins,
    )
    released = answers.answer(session, staff, answers.Publish(extract), settings)
    assert released.publication is not None
    return _publication_out(session, released.publication, str(released.epsilon_charged))


@router.get("/releases", response_model=list[PublicationOut])
def list_publications(session: SessionDep) -> list[PublicationOut]:
    """Every published extract, newest first, with its audience, ε and downloads."""
    return [PublicationOut(**p) for p in publications.described(session)]


@router.post(
    "/releases/{publication_id}/republish",
    status_code=status.HTTP_201_CREATED,
    response_model=PublicationOut,
)
def republish(
    publication_id: PublicationId, session: SessionDep, staff: StaffDep, settings: SettingsDep
) -> PublicationOut:
    """Publish an extract again for the dataset's newest version (charged anew); the old
    release stays downloadable."""
    released = answers.answer(session, staff, answers.Republish(publication_id), settings)
    assert released.publication is not None
    return _publication_out(session, released.publication, str(released.epsilon_charged))


# The ledger and the audit log.


def _filters(
    account: Annotated[int | None, Query(ge=1, le=MAX_ID, description="account id")] = None,
    dataset: Annotated[str | None, Query(description="dataset slug")] = None,
    since: Annotated[datetime | None, Query(description="from this moment (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="before this moment")] = None,
    action: Annotated[str | None, Query(max_length=32, description="audit action")] = None,
    limit: Annotated[int, Query(ge=1, le=admin.MAX_ROWS)] = 1000,
) -> Filters:
    return Filters(account, dataset, since, until, action, limit)


FiltersDep = Annotated[Filters, Depends(_filters)]
TableFormat = Annotated[Literal["json", "csv"], Query()]


def _table(rows: list[dict[str, Any]], columns: list[str], name: str, format: str) -> Any:
    if format == "json":
        return rows
    return Response(
        extracts.records_csv(columns, rows).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="amaan_{name}.csv"'},
    )


@router.get("/ledger", responses={200: {"content": {"text/csv": {}}}})
def ledger(session: SessionDep, filters: FiltersDep, format: TableFormat = "json") -> Any:
    """Every charge of privacy loss, newest first; filter by account, dataset and time."""
    return _table(admin.ledger(session, filters), admin.LEDGER_COLUMNS, "ledger", format)


@router.get("/audit", responses={200: {"content": {"text/csv": {}}}})
def audit_log(session: SessionDep, filters: FiltersDep, format: TableFormat = "json") -> Any:
    """The audit log, newest first; filter by account, dataset, action and time."""
    return _table(admin.audit_log(session, filters), admin.AUDIT_COLUMNS, "audit", format)


@router.get("/audit/verify")
def audit_verify(session: SessionDep) -> dict[str, Any]:
    """Seal what is committed, then verify the chain and recompute every budget from it: ok,
    how many entries, those still unsealed, and where it breaks if it does."""
    audit.seal(session)
    session.commit()  # the sealing is its own short transaction, before the long read
    result = audit.verify(session)
    return {
        "ok": result.ok,
        "entries": result.entries,
        "pending": result.pending,
        "problem": result.problem,
        "entry_id": result.entry_id,
        "account_id": result.account_id,
        "dataset": result.dataset,
    }
