"""The staff page's summaries page (``/admin/summaries``): a dataset's published summaries,
a page at a time, a form to publish one, the annual report's figures as CSV, and publishing
that report to partners.

Publishing goes through the release pipeline (``api.answers.Summarise``), so it is refused,
charged and audited exactly as from the REST API and the CLI (the same errors, naming the
field); a refusal is shown on this page with the form filled in again. After a form the
browser is sent back here (POST, redirect, GET).
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request, Response
from sqlalchemy.orm import Session

from api import answers, pages
from api.deps import SessionDep, SettingsDep
from api.errors import InvalidChange
from api.staff import accounts, budgets
from api.staff_page.refusals import PageRoute, shown_on
from api.staff_page.web import FormStaffDep, Staff, StaffDep, back, page
from api.summaries import extract, partners, templates, views

router = APIRouter(prefix="/admin/summaries", include_in_schema=False, route_class=PageRoute)
FormText = Annotated[str, Form()]
SHOWN = 100  # summaries on a page; the rest through ``cursor``
_YEAR = re.compile(r"[0-9]{4}", re.ASCII)


def _summaries(
    session: Session, who: Staff, dataset: str | None, cursor: str | None = None
) -> dict[str, Any]:
    slugs = budgets.dataset_slugs(session)
    chosen = dataset if dataset in slugs else (slugs[0] if slugs else None)
    shown: list[views.SummaryView] = []
    following = None
    if chosen is not None:
        at = pages.parse(SHOWN, cursor, ("summary",))
        shown, following = views.listed(session, who.account, chosen, at)
    return {
        "summaries": shown,
        "next": following,
        "dataset": chosen,
        "datasets": slugs,
        "templates": templates.TEMPLATES,
        "report": extract.TEMPLATE,
        "partners": accounts.active_partners(session),
    }


def _again(session: Session, request: Request, who: Staff) -> tuple[str, dict[str, Any]]:
    form = getattr(request.state, "summary_form", None) or {}
    context = _summaries(session, who, form.get("dataset"))
    return "summaries.html", context | {"form": form}


@router.get("")
def summaries_page(
    request: Request,
    session: SessionDep,
    who: StaffDep,
    dataset: str | None = None,
    cursor: str | None = None,
    done: str | None = None,
) -> Response:
    context = _summaries(session, who, dataset, cursor)
    return page(request, "summaries.html", who, done=done, form=None, **context)


def _year(value: str) -> int | None:
    text = value.strip()
    if not text:
        return None
    if not _YEAR.fullmatch(text):
        raise InvalidChange(
            "year must be a year written with four digits 0-9, such as 2024, or empty",
            field="year",
        )
    return int(text)


@router.post("")
@shown_on(_again)
def publish_summary(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    who: FormStaffDep,
    dataset: FormText = "",
    template: FormText = "default",
    year: FormText = "",
    epsilon: FormText = "",
) -> Response:
    """Publish a summary (charged to the dataset's cap), as ``POST /v1/admin/summaries``."""
    request.state.summary_form = {
        "dataset": dataset,
        "template": template,
        "year": year,
        "epsilon": epsilon,
    }
    ask = answers.Summarise(dataset, template, epsilon.strip(), _year(year))
    published = answers.answer(session, who.account, ask, settings)
    done = "again" if published.cached else "published"
    where = urlencode({"dataset": views.published(published).dataset, "done": done})
    return back(f"/admin/summaries?{where}")


@router.get("/{release_id}/report.csv")
def report_csv(release_id: str, session: SessionDep, who: StaffDep) -> Response:
    """The annual report's figures (English and Urdu labels), as partners download it."""
    found = extract.of_release(session, who.account, release_id, extract.confidence(None))
    extract.downloaded(session, who.account, found, "report_csv")
    data = extract.as_csv(found, bom=True)  # Excel reads the Urdu with the byte-order mark
    return Response(data, media_type="text/csv; charset=utf-8", headers=extract.headers(found))


@router.post("/{release_id}/publish")
@shown_on(_again)
def publish_report(
    release_id: str,
    session: SessionDep,
    who: FormStaffDep,
    title: FormText = "",
    audience: Annotated[list[str], Form()] = [],  # noqa: B006  (FastAPI copies defaults)
) -> Response:
    """Publish the annual report to partners, as ``POST /v1/admin/summaries/{id}/publish``."""
    shown: list[str | int] = list(audience)
    found = partners.publish(session, who.account, release_id, title, "", shown)
    return back(f"/admin/summaries?{urlencode({'dataset': found.dataset, 'done': 'shared'})}")
