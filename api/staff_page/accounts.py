"""The staff page's accounts page (``/admin/accounts``): every account, creating one, and
a new account's first key.

The form goes through the staff services (``api.staff.accounts``), which check and audit
it as for the REST API. A new key is shown once, on the page that answers the form (never
in a URL, never stored in the clear), with a button that copies it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from sqlalchemy.orm import Session

from api.deps import SessionDep
from api.errors import InvalidChange
from api.staff import accounts, budgets
from api.staff.common import Actor
from api.staff.common import epsilon as parse_epsilon
from api.staff_page.forms import ROLES, expiry, role_of, text_field
from api.staff_page.refusals import PageRoute, shown_on
from api.staff_page.web import FormStaffDep, Staff, StaffDep, page

router = APIRouter(prefix="/admin/accounts", include_in_schema=False, route_class=PageRoute)
FormText = Annotated[str, Form()]
MAX_DATASETS = 50


def _accounts(session: Session) -> dict[str, Any]:
    return {
        "accounts": accounts.listed(session),
        "datasets": budgets.dataset_slugs(session),
        "roles": ROLES,
    }


def _accounts_again(session: Session, request: Request, who: Staff) -> tuple[str, dict[str, Any]]:
    return "accounts.html", _accounts(session) | {"form": getattr(request.state, "form", None)}


@router.get("")
def accounts_page(request: Request, session: SessionDep, who: StaffDep) -> Response:
    return page(request, "accounts.html", who, **_accounts(session))


@router.post("")
@shown_on(_accounts_again)
def create_account(
    request: Request,
    session: SessionDep,
    who: FormStaffDep,
    name: FormText = "",
    role: FormText = "",
    organisation: FormText = "",
    datasets: Annotated[list[str], Form()] = [],  # noqa: B006  (FastAPI copies defaults)
    budget: FormText = "",
    expires: FormText = "",
) -> Response:
    """A new account with its grants, budget and first key, which is shown once."""
    request.state.form = {"name": name, "role": role, "organisation": organisation}
    request.state.form |= {"datasets": datasets, "budget": budget, "expires": expires}
    if len(datasets) > MAX_DATASETS:
        raise InvalidChange(f"at most {MAX_DATASETS} datasets", field="datasets")
    issued = accounts.create_account(
        session,
        Actor(who.account),
        name=text_field(name, "name", required=True),
        role=role_of(role),
        organisation=text_field(organisation, "organisation"),
        datasets=datasets,
        budget=parse_epsilon(budget, "budget") if budget.strip() else None,
        expires_at=expiry(expires),
    )
    owner = accounts.view(session, issued.account_id)
    return page(request, "key.html", who, 201, owner=owner, issued=issued, created=True)
