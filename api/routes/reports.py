"""The annual report as partners, researchers and staff download it: ``GET
/v1/reports/{release_id}`` on an ``annual-report`` summary, as JSON (figures and metadata) or
CSV (English and Urdu labels; the metadata as ``X-Amaan-*`` headers). Reading never spends;
each download is audited as a release's is. A release the caller may not read is 404.
"""

from __future__ import annotations

from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Query, Response

from api import pages
from api.deps import PrincipalDep, SessionDep
from api.routes import staff_models as m
from api.schemas import Cursor, Limit
from api.summaries import extract, partners

router = APIRouter(tags=["releases"])

ReportFormat = Annotated[Literal["json", "csv"], Query(description="json (default) or csv")]
Confidence = Annotated[
    str | None,
    Query(
        max_length=19,
        description="of the intervals, strictly between 0.5 and 1; default the simultaneous "
        "level 1 - 0.05/14, at which all fourteen figures hold at once with 95%",
    ),
]
Bom = Annotated[bool, Query(description="prefix the CSV with a byte-order mark (for Excel)")]


@router.get("/reports", response_model=m.ReportPage)
def list_reports(
    session: SessionDep, principal: PrincipalDep, limit: Limit = None, cursor: Cursor = None
) -> m.ReportPage:
    """Annual reports published to you (every one for staff; those of your datasets for
    researchers), newest first, a page at a time."""
    page = pages.parse(limit, cursor, ("report",))
    rows, following = partners.listed(session, principal, page)
    return m.ReportPage(items=[m.ReportOut.model_validate(r) for r in rows], next=following)


@router.get("/reports/{release_id}", responses={200: {"content": {"text/csv": {}}}})
def get_report(
    release_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    format: ReportFormat = "json",
    confidence: Confidence = None,
    bom: Bom = False,
) -> Response:
    """The annual report of a published ``annual-report`` summary: its fourteen figures
    (name, English and Urdu label, unit, value, interval), free."""
    found = extract.of_release(session, principal, release_id, extract.confidence(confidence))
    extract.downloaded(session, principal, found, f"report_{format}")
    head = extract.headers(found)
    if format == "csv":
        return Response(
            extract.as_csv(found, bom), media_type="text/csv; charset=utf-8", headers=head
        )
    head.pop("Content-Disposition")
    return Response(
        orjson.dumps(extract.as_json(found)), media_type="application/json", headers=head
    )
