"""Researchers' (and budgeted partners') count queries, estimates and stored releases."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from api import releases
from api.deps import PrincipalDep, SessionDep, SettingsDep
from api.errors import AmaanError
from api.routes.releases import Bom, Format, release_csv, release_json, wants_csv
from api.schemas import EstimateOut, QueryIn, ReleaseOut
from privacy import Epsilon
from schema.access import Account

router = APIRouter(tags=["queries"])


def to_query(body: QueryIn) -> releases.CountQuery:
    filters: dict[str, list[str]] = {}
    for f in body.filters:
        filters.setdefault(f.dimension, []).extend(f.values)
    return releases.CountQuery(
        dataset=body.dataset,
        group_by=body.group_by,
        filters=filters,
        period=(body.period.from_, body.period.to) if body.period else None,
        epsilon=body.epsilon,
        margin_of_error=body.margin_of_error,
        confidence=body.confidence,
    )


def refuse(
    session: Session, principal: Account, query: releases.CountQuery, exc: AmaanError
) -> None:
    """Undo everything of a refused query, then record the refusal on its own."""
    session.rollback()
    releases.record_refusal(session, principal, query, exc)
    session.commit()


@router.post("/queries", response_model=ReleaseOut, responses={200: {"content": {"text/csv": {}}}})
def post_query(
    body: QueryIn,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    format: Format = None,
    bom: Bom = False,
) -> Response:
    """Answer a count query (spends ε unless cached); JSON, or CSV as for releases."""
    query = to_query(body)
    try:
        outcome = releases.count(session, principal, query, settings)
    except AmaanError as exc:
        refuse(session, principal, query, exc)
        raise
    if wants_csv(request, format):
        return release_csv(session, outcome.release, None, bom)
    return release_json(
        outcome.release,
        outcome.cached,
        str(outcome.epsilon_charged),
        None if outcome.remaining_micro is None else str(Epsilon(outcome.remaining_micro)),
    )


@router.post("/queries/estimate", response_model=EstimateOut)
def post_estimate(
    body: QueryIn, session: SessionDep, principal: PrincipalDep, settings: SettingsDep
) -> EstimateOut:
    prepared, cached = releases.estimate(session, principal, to_query(body), settings)
    return EstimateOut(
        epsilon=str(prepared.plan.epsilon),
        margin_of_error=prepared.plan.margin_of_error,
        cells=prepared.plan.cells,
        cached=cached,
    )
