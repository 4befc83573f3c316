"""Researchers' (and budgeted partners') count queries, estimates and stored releases."""

from __future__ import annotations

import json

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from api import releases
from api.deps import PrincipalDep, SessionDep, SettingsDep
from api.errors import AmaanError, NotFound
from api.schemas import EstimateOut, QueryIn, ReleaseOut
from privacy import Epsilon
from schema.access import Account, Grant
from schema.repositories import releases as releases_repo

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


def _respond(
    release_id: str, cached: bool, charged: str, remaining: str | None, stored: str
) -> Response:
    """The stored release as sent, prefixed with this request's fields (no re-validation of
    thousands of cells: the body was built by the service and is served as it was stored)."""
    head = json.dumps(
        {
            "release_id": release_id,
            "cached": cached,
            "epsilon_charged": charged,
            "budget_remaining": remaining,
        }
    )
    return Response(head[:-1] + "," + stored[1:], media_type="application/json")


def _remaining(session: SessionDep, account: Account, dataset_id: int) -> str | None:
    left, _ = releases_repo.remaining(session, account.id, dataset_id)
    return None if left is None else str(Epsilon(left))


@router.post("/queries", response_model=ReleaseOut)
def post_query(
    body: QueryIn,
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
) -> Response:
    query = to_query(body)
    try:
        outcome = releases.count(session, principal, query, settings)
    except AmaanError as exc:
        refuse(session, principal, query, exc)
        raise
    return _respond(
        outcome.release.public_id,
        outcome.cached,
        str(outcome.epsilon_charged),
        _remaining(session, principal, outcome.release.dataset_id),
        outcome.release.body,
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


@router.get("/releases/{release_id}", response_model=ReleaseOut)
def get_release(release_id: str, session: SessionDep, principal: PrincipalDep) -> Response:
    release = releases_repo.by_public_id(session, release_id)
    allowed = release is not None and (
        principal.role == "admin"
        or session.get(Grant, (principal.id, release.dataset_id)) is not None
    )
    if release is None or not allowed or principal.role == "partner":
        raise NotFound(f"no release {release_id!r} is available to this account")
    return _respond(
        release.public_id,
        True,
        "0",
        _remaining(session, principal, release.dataset_id),
        release.body,
    )
