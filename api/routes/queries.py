"""Researchers' (and budgeted partners') count queries, estimates and stored releases."""

from __future__ import annotations

import json

from fastapi import APIRouter
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


def _remaining(session: SessionDep, account: Account, dataset_id: int) -> str | None:
    left, _ = releases_repo.remaining(session, account.id, dataset_id)
    return None if left is None else str(Epsilon(left))


@router.post("/queries", response_model=ReleaseOut)
def post_query(
    body: QueryIn,
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
) -> ReleaseOut:
    query = to_query(body)
    try:
        outcome = releases.count(session, principal, query, settings)
    except AmaanError as exc:
        refuse(session, principal, query, exc)
        raise
    return ReleaseOut(
        release_id=outcome.release.public_id,
        cached=outcome.cached,
        epsilon_charged=str(outcome.epsilon_charged),
        budget_remaining=_remaining(session, principal, outcome.release.dataset_id),
        **{k: v for k, v in outcome.body.items() if k in ReleaseOut.model_fields},
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
def get_release(release_id: str, session: SessionDep, principal: PrincipalDep) -> ReleaseOut:
    release = releases_repo.by_public_id(session, release_id)
    allowed = release is not None and (
        principal.role == "admin"
        or session.get(Grant, (principal.id, release.dataset_id)) is not None
    )
    if release is None or not allowed or principal.role == "partner":
        raise NotFound(f"no release {release_id!r} is available to this account")
    body = json.loads(release.body)
    return ReleaseOut(
        release_id=release.public_id,
        cached=True,
        epsilon_charged="0",
        budget_remaining=_remaining(session, principal, release.dataset_id),
        **{k: v for k, v in body.items() if k in ReleaseOut.model_fields},
    )
