"""The staff page's releases page (``/admin/releases``): published extracts, and publishing
one in two steps, its cost first.

Both steps go through the release pipeline (``api.answers``), so a refusal is checked and
audited as from the API; it is shown on this page with the form filled in again.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from api import answers
from api.deps import SessionDep, SettingsDep
from api.staff import accounts, budgets, publications
from api.staff_page.forms import FormDep
from api.staff_page.refusals import PageRoute, shown_on
from api.staff_page.web import FormStaffDep, Staff, StaffDep, back, page
from privacy import Epsilon
from schema.codelists import codelists
from schema.models import DIMENSIONS

router = APIRouter(prefix="/admin/releases", include_in_schema=False, route_class=PageRoute)


def _releases(session: Session) -> dict[str, Any]:
    lists = codelists()
    return {
        "publications": publications.described(session, limit=200),
        "datasets": budgets.dataset_slugs(session),
        "dimensions": list(DIMENSIONS),
        "filter_dimensions": [d for d in DIMENSIONS if d in lists.dimensions],
        "partners": accounts.active_partners(session),
    }


def _releases_again(session: Session, request: Request, who: Staff) -> tuple[str, dict[str, Any]]:
    form = getattr(request.state, "extract_form", None)
    return "releases.html", {**_releases(session), "form": form}


@router.get("")
def releases_page(
    request: Request, session: SessionDep, who: StaffDep, done: str | None = None
) -> Response:
    return page(request, "releases.html", who, done=done, **_releases(session))


@router.post("/estimate")
@shown_on(_releases_again)
def estimate_extract(
    request: Request, session: SessionDep, settings: SettingsDep, who: FormStaffDep, form: FormDep
) -> Response:
    """Step one of publishing: what it would cost; nothing is spent."""
    extract = form.extract()
    query = replace(extract.query, rounding=extract.rounding, margins=extract.margins)
    costed = answers.answer(session, who.account, answers.Estimate(query), settings)
    plan = costed.prepared.plan
    cap = next(
        d for d in budgets.overview(session).datasets if d.dataset == costed.prepared.dataset.slug
    )
    charged = Epsilon(0) if costed.cached else plan.epsilon
    partners = {str(p.account_id): p for p in accounts.active_partners(session)}
    return page(
        request,
        "estimate.html",
        who,
        form=form,
        epsilon=str(plan.epsilon),
        margin_of_error=plan.margin_of_error,
        confidence=plan.confidence,
        cells=plan.cells,
        cached=costed.cached,
        cap=cap,
        share_of_cap=charged.micro / cap.cap.micro if cap.cap.micro else 1.0,
        left_after=cap.remaining - charged if charged <= cap.remaining else None,
        partners=partners,
    )


@router.post("")
@shown_on(_releases_again)
def publish_extract(
    session: SessionDep, settings: SettingsDep, who: FormStaffDep, form: FormDep
) -> Response:
    """Step two: publish (charged to the dataset's cap)."""
    answers.answer(session, who.account, answers.Publish(form.extract()), settings)
    return back("/admin/releases?done=published")
