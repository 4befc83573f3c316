"""Researchers' (and budgeted partners') count queries, estimates and stored releases."""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, Request, Response

from api import answers, hits, releases
from api.deps import (
    PrincipalDep,
    SessionDep,
    SettingsDep,
    admitted,
    finish,
    get_settings,
    verifies_itself,
)
from api.errors import InvalidQuery
from api.routes.releases import (
    XLSX,
    About,
    Bom,
    Format,
    Layout,
    release_file,
    release_json,
    wanted,
)
from api.schemas import EstimateOut, ProposalOut, QueryIn, ReleaseOut
from privacy import Epsilon

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
        statistic=None if body.statistic is None else body.statistic.asked(),
        source=body.source,
    )


@router.post(
    "/queries",
    response_model=ReleaseOut,
    responses={200: {"content": {"text/csv": {}, "application/zip": {}, XLSX: {}}}},
)
@verifies_itself
def post_query(
    body: QueryIn,
    request: Request,
    session: SessionDep,
    format: Format = None,
    bom: Bom = False,
    about: About = "0",
    layout: Layout = "rows",
) -> Response:
    """Answer a count query (spends ε unless cached); JSON (its cells in columns with
    ``?layout=columns``), or a file as for releases, its columns in the order of
    ``group_by``."""
    # The caller and the settings without dependencies of this route's own: the data
    # router's get_principal has admitted the caller, and a hit's CPU is spent in part on
    # FastAPI's solving of each dependency (``api.deps.admitted``). First, in this thread: a
    # cached identity is checked in this transaction (``verifies_itself``).
    principal, settings = admitted(request, session), get_settings(request)
    kind = wanted(request, format, about, layout)
    query = to_query(body)
    ask = answers.Count(query)
    if kind != "json" and body.statistic is not None:
        err = InvalidQuery("statistic: only in JSON responses", field="statistic", valid=["json"])
        answers.record_refusal(session, principal, ask, err)
        raise err
    if kind != "json":  # files are of stored releases: a derived answer is JSON only
        if body.source == "summary":
            raise InvalidQuery(
                "answers from a summary are JSON only", field="format", valid=["json"]
            )
        ask = answers.Count(replace(query, source="direct"))
    released = answers.answer(session, principal, ask, settings)
    if kind != "json":
        order = list(body.group_by)
        file = release_file(session, released.release, None, kind, bom, released.content, order)
        finish(session)
        return file
    hits.keep(session, request, released, layout)  # under the generation read: before commit
    finish(session)
    return release_json(
        released.release,
        released.cached,
        released.epsilon_charged,
        None if released.remaining_micro is None else Epsilon(released.remaining_micro),
        released.stored,
        statistic=released.statistic,
        in_columns=released.columns,
        layout=layout,
    )


@router.post("/queries/estimate", response_model=EstimateOut)
def post_estimate(
    body: QueryIn, session: SessionDep, principal: PrincipalDep, settings: SettingsDep
) -> EstimateOut:
    costed = answers.answer(session, principal, answers.Estimate(to_query(body)), settings)
    plan, ahead = costed.prepared.plan, costed.summary
    return EstimateOut(
        epsilon=plan.epsilon.as_float(),
        margin_of_error=plan.margin_of_error,
        cells=plan.cells,
        cached=costed.cached,
        covered=ahead.covered,
        derived_from=ahead.derived_from,
        derived_margin_of_error=ahead.margin_of_error,
        predicted_suppressed=ahead.predicted_suppressed,
        coarser=None
        if ahead.coarser is None
        else [
            ProposalOut(group_by=x.group_by, cells=x.cells, suppressed=x.suppressed)
            for x in ahead.coarser
        ],
        prediction=ahead.note,
    )
