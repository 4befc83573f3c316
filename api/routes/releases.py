"""Stored releases: listed, read as JSON or CSV, with their metadata. Reading never spends.

A release the caller may not read is 404, exactly as one that does not exist.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session

from api import catalogue, extracts, publications
from api.deps import PrincipalDep, SessionDep
from api.schemas import ReleaseListItem, ReleaseMetadataOut, ReleaseOut
from privacy import Epsilon
from schema.access import Account, Publication, Release
from schema.repositories import audit
from schema.repositories import datasets as datasets_repo
from schema.repositories import releases as releases_repo

router = APIRouter(tags=["releases"])

Format = Annotated[Literal["json", "csv"] | None, Query(description="json (default) or csv")]
Bom = Annotated[bool, Query(description="prefix the CSV with a byte-order mark (for Excel)")]


def wants_csv(request: Request, format: str | None) -> bool:
    if format is not None:
        return format == "csv"
    return "text/csv" in request.headers.get("accept", "")


def release_json(
    release: Release,
    cached: bool,
    charged: str,
    remaining: str | None,
    content: bytes | None = None,
) -> Response:
    """The release as the service made it (``content``, or the stored body), prefixed with this
    request's fields (no re-validation of thousands of cells)."""
    head = json.dumps(
        {
            "release_id": release.public_id,
            "cached": cached,
            "epsilon_charged": charged,
            "budget_remaining": remaining,
        }
    )
    stored = extracts.body(release) if content is None else content
    return Response(head[:-1].encode() + b"," + stored[1:], media_type="application/json")


def release_csv(
    session: Session,
    release: Release,
    publication: Publication | None,
    bom: bool,
    content: bytes | None = None,
) -> Response:
    dataset = datasets_repo.by_id(session, release.dataset_id)
    meta = extracts.metadata(release, dataset, publication)
    if content is not None:  # the release with intervals at the confidence asked
        shown = json.loads(content)
        meta |= {k: shown[k] for k in ("confidence", "margin_of_error", "interpretation")}
    table = extracts.release_csv(release, bom, content)
    head = extracts.headers(meta)
    head["Content-Disposition"] = f'attachment; filename="{extracts.file_name(meta)}"'
    return Response(table, media_type="text/csv; charset=utf-8", headers=head)


def remaining(session: Session, account: Account, dataset_id: int) -> str | None:
    left, _ = releases_repo.remaining(session, account.id, dataset_id)
    return None if left is None else str(Epsilon(left))


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


@router.get("/releases", response_model=list[ReleaseListItem])
def list_releases(session: SessionDep, principal: PrincipalDep) -> list[ReleaseListItem]:
    """Extracts published to you, and the releases of your own queries; newest first."""
    return [
        ReleaseListItem(**(vars(item) | {"epsilon": str(item.epsilon)}))
        for item in catalogue.visible_releases(session, principal)
    ]


@router.get(
    "/releases/{release_id}",
    response_model=ReleaseOut,
    responses={200: {"content": {"text/csv": {}}}},
)
def get_release(
    release_id: str,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    format: Format = None,
    bom: Bom = False,
) -> Response:
    """A stored release: JSON, or CSV with ``?format=csv`` or ``Accept: text/csv``."""
    release = publications.readable(session, principal, release_id)
    if wants_csv(request, format):
        _audit_download(session, principal, release, "csv")
        publication = publications.publication_for(session, principal, release)
        return release_csv(session, release, publication, bom)
    _audit_download(session, principal, release, "json")
    return release_json(release, True, "0", remaining(session, principal, release.dataset_id))


@router.get("/releases/{release_id}/metadata", response_model=ReleaseMetadataOut)
def get_release_metadata(
    release_id: str, session: SessionDep, principal: PrincipalDep
) -> ReleaseMetadataOut:
    """What a release means: dataset and version, ε, mechanism, privacy unit, thresholds,
    rounding, confidence; never a count."""
    release = publications.readable(session, principal, release_id)
    dataset = datasets_repo.by_id(session, release.dataset_id)
    publication = publications.publication_for(session, principal, release)
    return ReleaseMetadataOut(**extracts.metadata(release, dataset, publication))
