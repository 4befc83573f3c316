"""Stored releases: listed, read as JSON, CSV (alone or zipped with what it means) or Excel,
with their metadata. Reading never spends.

A release the caller may not read is 404, exactly as one that does not exist.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session

from api import catalogue, columns, extract_table, extracts, pages, publications
from api.deps import PrincipalDep, SessionDep
from api.errors import InvalidQuery
from api.schemas import Cursor, Limit, ReleaseListItem, ReleaseMetadataOut, ReleaseOut, ReleasePage
from privacy import ZERO, Epsilon
from schema.access import Account, Publication, Release
from schema.repositories import audit
from schema.repositories import datasets as datasets_repo
from schema.repositories import releases as releases_repo

router = APIRouter(tags=["releases"])

Format = Annotated[
    Literal["json", "csv", "xlsx"] | None,
    Query(description="json (default), csv or xlsx (an Excel workbook with an About sheet)"),
]
Bom = Annotated[bool, Query(description="prefix the CSV with a byte-order mark (for Excel)")]
About = Annotated[
    Literal["0", "1"],
    Query(description="1: the CSV zipped with a text file saying what it means (format csv)"),
]
Layout = Annotated[
    Literal["rows", "columns"],
    Query(
        description="JSON only. rows (default): one object per cell; columns: each code's "
        "labels once per axis (`axes`) and each cell field as one list (`cells.key.<dimension>` "
        "an index into the axis' codes, null for its total), the same numbers and suppression"
    ),
]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def wanted(request: Request, format: str | None, about: str, layout: str = "rows") -> str:
    """The format asked for (``?format``, else the Accept header); ``zip`` for a CSV with
    ``about=1``. ``layout=columns`` is of JSON only."""
    accept = request.headers.get("accept", "")
    chosen = format or ("csv" if "text/csv" in accept else "xlsx" if XLSX in accept else "json")
    if layout != "rows" and chosen != "json":
        raise InvalidQuery(
            "layout=columns goes with JSON (format json)", field="layout", valid=["rows"]
        )
    if about == "1":
        if chosen != "csv":
            raise InvalidQuery("about=1 goes with format=csv", field="about", valid=["0", "1"])
        return "zip"
    return chosen


def served_shape(stored: dict[str, Any]) -> bytes:
    """A stored body (parsed) as REST serves it: ε as a JSON number, each cell's key by
    dimension (so ``pandas.json_normalize`` gives the columns ``key.<dimension>.code``,
    ``.label`` and ``.label_ur``). A label shared by many cells (as a new release builds them)
    is shaped once."""
    shaped: dict[int, dict[str, str]] = {}

    def flat(label: dict[str, str]) -> dict[str, str]:
        found = shaped.get(id(label))
        if found is None:
            found = shaped[id(label)] = {n: label[n] for n in ("code", "label", "label_ur")}
        return found

    cells = [
        cell | {"key": {k["dimension"]: flat(k) for k in cell["key"]}} for cell in stored["cells"]
    ]
    epsilon = Epsilon.parse(stored["epsilon"]).as_float()
    return orjson.dumps({**stored, "epsilon": epsilon, "cells": cells})


def _flat_key(key: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    """A cell's key as one object per dimension, as the cells are served."""
    return {k["dimension"]: {n: k[n] for n in ("code", "label", "label_ur")} for k in key}


def _served(content: bytes, layout: str) -> bytes:
    parsed = orjson.loads(content)
    if layout == "columns":
        return columns.served_columns(columns.from_rows(parsed))
    return served_shape(parsed)


def release_json(
    release: Release,
    cached: bool,
    charged: Epsilon,
    remaining: Epsilon | None,
    content: bytes | None = None,
    statistic: dict[str, Any] | None = None,
    in_columns: dict[str, Any] | None = None,
    layout: str = "rows",
) -> Response:
    """The release as the service made it (``content``, or the stored body) in the served
    shape (``layout``: rows, or columns: ``api.columns``; converted once per worker, not per
    request), prefixed with this request's fields and followed by its ``statistic``, if one
    was asked (keys by dimension, as the cells). ``in_columns``: a new release's body as the
    service built it, served from that (its row form is never built)."""
    body = served_body(release, content, statistic, in_columns, layout)
    return with_head(release.public_id, cached, charged, remaining, body)


def served_body(
    release: Release,
    content: bytes | None = None,
    statistic: dict[str, Any] | None = None,
    in_columns: dict[str, Any] | None = None,
    layout: str = "rows",
) -> bytes:
    """What ``release_json`` serves after this request's own fields (a JSON object)."""
    if in_columns is not None:
        shape = columns.served_columns if layout == "columns" else columns.served_rows
        body = shape(in_columns)
    else:
        stored = extracts.body(release) if content is None else content
        body = extracts.served(stored, lambda: _served(stored, layout), layout)
    if statistic is not None:
        shown = statistic | {
            "cells": [c | {"key": _flat_key(c["key"])} for c in statistic["cells"]]
        }
        tail = json.dumps({"statistic": shown}, ensure_ascii=False).encode("utf-8")
        body = body[:-1] + b", " + tail[1:]
    return body


def with_head(
    public_id: str, cached: bool, charged: Epsilon, remaining: Epsilon | None, body: bytes
) -> Response:
    """A served body (``served_body``) prefixed with this request's fields."""
    head = json.dumps(
        {
            "release_id": public_id,
            "cached": cached,
            "epsilon_charged": charged.as_float(),
            "budget_remaining": None if remaining is None else remaining.as_float(),
        }
    )
    return Response(head[:-1].encode() + b", " + body[1:], media_type="application/json")


def release_file(
    session: Session,
    release: Release,
    publication: Publication | None,
    kind: str,
    bom: bool,
    content: bytes | None = None,
    order: list[str] | None = None,
) -> Response:
    """The release as a file (``kind`` csv, zip or xlsx), its metadata as ``X-Amaan-*``
    headers; ``order`` is the order the query grouped its dimensions."""
    dataset = datasets_repo.by_id(session, release.dataset_id)
    meta = extracts.metadata(release, dataset, publication)
    if content is not None:  # the release with intervals at the confidence asked
        shown = json.loads(content)
        meta |= {k: shown[k] for k in ("confidence", "margin_of_error", "interpretation")}
    if order is None and publication is not None and publication.group_by:
        order = json.loads(publication.group_by)
    meta["group_by"] = extract_table.ordered(meta["group_by"], order)  # as the columns
    version = datasets_repo.version_by_id(session, release.version_id)
    coverage = (version.first_month, version.last_month)
    if kind == "xlsx":
        data, media = extracts.release_xlsx(release, meta, coverage, content, order), XLSX
    elif kind == "zip":
        data = extracts.release_zip(release, meta, coverage, content, order)
        media = "application/zip"
    else:
        data, media = extracts.release_csv(release, bom, content, order), "text/csv; charset=utf-8"
    head = extracts.headers(meta)
    name = extracts.file_name(release.public_id, kind)
    head["Content-Disposition"] = f'attachment; filename="{name}"'
    return Response(data, media_type=media, headers=head)


def remaining(session: Session, account: Account, dataset_id: int) -> Epsilon | None:
    left, _ = releases_repo.remaining(session, account.id, dataset_id)
    return None if left is None else Epsilon(left)


def _audit_download(session: Session, account: Account, release: Release, what: str) -> None:
    audit.append(
        session,
        action="download",
        outcome=what,
        account_id=account.id,
        dataset_id=release.dataset_id,
        version_id=release.version_id,
        canonical_key=release.canonical_key,
        detail={"release": release.public_id},
    )


@router.get("/releases", response_model=ReleasePage)
def list_releases(
    session: SessionDep, principal: PrincipalDep, limit: Limit = None, cursor: Cursor = None
) -> ReleasePage:
    """Extracts published to you, then the releases of your own queries; newest first, a
    page at a time (pass ``next`` as ``cursor`` for the next page)."""
    page = pages.parse(limit, cursor, catalogue.RELEASE_PARTS)
    items, following = catalogue.visible_releases(session, principal, page)
    return ReleasePage(
        items=[
            ReleaseListItem(**(vars(item) | {"epsilon": item.epsilon.as_float()})) for item in items
        ],
        next=following,
    )


@router.get(
    "/releases/{release_id}",
    response_model=ReleaseOut,
    responses={200: {"content": {"text/csv": {}, "application/zip": {}, XLSX: {}}}},
)
def get_release(
    release_id: str,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    format: Format = None,
    bom: Bom = False,
    about: About = "0",
    layout: Layout = "rows",
) -> Response:
    """A stored release: JSON (its cells in columns with ``?layout=columns``); CSV with
    ``?format=csv`` or ``Accept: text/csv`` (zipped with its about text with ``&about=1``); an
    Excel workbook with ``?format=xlsx``."""
    kind = wanted(request, format, about, layout)
    release = publications.readable(session, principal, release_id)
    if kind != "json":
        _audit_download(session, principal, release, kind)
        publication = publications.publication_for(session, principal, release)
        return release_file(session, release, publication, kind, bom)
    _audit_download(session, principal, release, "json")
    left = remaining(session, principal, release.dataset_id)
    return release_json(release, True, ZERO, left, layout=layout)


@router.get("/releases/{release_id}/metadata", response_model=ReleaseMetadataOut)
def get_release_metadata(
    release_id: str, session: SessionDep, principal: PrincipalDep
) -> ReleaseMetadataOut:
    """What a release means: dataset and version, ε, mechanism, privacy unit, thresholds,
    rounding, confidence; never a count."""
    release = publications.readable(session, principal, release_id)
    dataset = datasets_repo.by_id(session, release.dataset_id)
    publication = publications.publication_for(session, principal, release)
    meta = extracts.metadata(release, dataset, publication)
    return ReleaseMetadataOut(**(meta | {"epsilon": Epsilon.parse(meta["epsilon"]).as_float()}))
