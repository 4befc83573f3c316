"""Extracts staff publish to partners, and who may read which release.

A publication is released once through the release service (charged to the dataset's cap as
a publication by the staff account) and stored immutable. Reading a release never spends.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, defer

from api import extracts, releases
from api.errors import AmaanError, InvalidQuery, NotFound, ReleaseFailed
from privacy import Epsilon
from schema.access import Account, AuditEntry, Grant, Publication, PublicationAudience, Release
from schema.models import Dataset
from schema.repositories import audit
from schema.repositories import releases as releases_repo
from schema.repositories.datasets import latest_version

ALL_PARTNERS = "all-partners"
MAX_AUDIENCE = 1000
_ID = re.compile(r"[1-9][0-9]{0,9}", re.ASCII)
RELEASE_ID = re.compile(r"r_[0-9a-f]{24}", re.ASCII)  # as ``releases_repo.claim`` makes them


class Conflict(AmaanError):
    status = 409
    code = "conflict"


@dataclass
class Extract:
    title: str
    description: str
    query: releases.CountQuery
    audience: list[str | int]
    rounding: int = 5
    margins: bool = False


def _audience(session: Session, audience: list[str | int]) -> tuple[bool, list[int]]:
    if not audience:
        raise InvalidQuery(f"name the audience: [{ALL_PARTNERS!r}] or partner account ids")
    if ALL_PARTNERS in audience:
        if len(audience) > 1:
            raise InvalidQuery(f"{ALL_PARTNERS!r} cannot be combined with account ids")
        return True, []
    if len(audience) > MAX_AUDIENCE:
        raise InvalidQuery(f"the audience names at most {MAX_AUDIENCE} accounts", field="audience")
    ids: list[int] = []
    for item in audience:
        text = str(item) if isinstance(item, int) and not isinstance(item, bool) else item
        if not (isinstance(text, str) and _ID.fullmatch(text)):
            raise InvalidQuery(
                f"audience entries are {ALL_PARTNERS!r} or account ids, not {str(item)[:40]!r}",
                field="audience",
            )
        ids.append(int(text))
    ids = sorted(set(ids))
    if any(not 1 <= i < 2**31 for i in ids):
        raise InvalidQuery("account ids in the audience must be positive whole numbers")
    found = session.scalars(
        select(Account.id).where(
            Account.id.in_(ids), Account.role == "partner", Account.active.is_(True)
        )
    ).all()
    missing = sorted(set(ids) - set(found))
    if missing:
        raise InvalidQuery(
            "the audience may name only active partner accounts", not_partners=missing
        )
    return False, ids


def check(session: Session, extract: Extract) -> tuple[bool, list[int]]:
    """Refuse a malformed extract before anything is released: (all partners?, account ids)."""
    if not extract.title.strip():
        raise InvalidQuery("an extract needs a title", field="title")
    if len(extract.title) > 200:
        raise InvalidQuery("the title is longer than 200 characters", field="title")
    if not 1 <= extract.rounding <= 1000:
        raise InvalidQuery("rounding must be a whole number from 1 to 1000", field="rounding")
    return _audience(session, extract.audience)


def record(
    session: Session,
    staff: Account,
    extract: Extract,
    audience: tuple[bool, list[int]],
    release: Release,
    charged: Epsilon,
    replaces: Publication | None,
) -> Publication:
    """The publication of a release to its audience, audited."""
    all_partners, ids = audience
    publication = Publication(
        release_id=release.id,
        title=extract.title.strip(),
        description=extract.description.strip(),
        all_partners=all_partners,
        rounding=extract.rounding,
        margins=extract.margins,
        published_by=staff.id,
        replaces_id=replaces.id if replaces else None,
    )
    session.add(publication)
    session.flush()
    session.add_all(PublicationAudience(publication_id=publication.id, account_id=i) for i in ids)
    audit.append(
        session,
        action="publish",
        outcome="published",
        account_id=staff.id,
        dataset_id=release.dataset_id,
        version_id=release.version_id,
        canonical_key=release.canonical_key,
        epsilon_micro=charged.micro,
        detail={
            "publication": publication.id,
            "release": release.public_id,
            "audience": [ALL_PARTNERS] if all_partners else ids,
            "replaces": replaces.id if replaces else None,
        },
    )
    return publication


def stored_query(release: Release) -> releases.CountQuery:
    """The query a release answered, for the dataset's newest version."""
    form = json.loads(release.query)
    period = form["period"]
    return releases.CountQuery(
        dataset=form["dataset"],
        group_by=form["group_by"],
        filters=form["filters"],
        period=(period["from"], period["to"]),
        epsilon=str(Epsilon(form["epsilon_micro"])),
    )


def for_republishing(session: Session, publication_id: int) -> tuple[Extract, Publication]:
    """An extract as published before, to publish again for the dataset's newest version (a
    new release, charged anew); 409 when it is already on the newest version."""
    old = session.get(Publication, publication_id)
    if old is None:
        raise NotFound(f"no publication {publication_id}")
    release = session.get(Release, old.release_id)
    assert release is not None
    newest = latest_version(session, release.dataset_id)
    if newest is None or newest.id == release.version_id:
        raise Conflict(
            "this extract is already published for the dataset's newest version",
            publication=publication_id,
        )
    audience: list[str | int] = (
        [ALL_PARTNERS] if old.all_partners else list(audience_of(session, old))
    )
    extract = Extract(
        title=old.title,
        description=old.description,
        query=stored_query(release),
        audience=audience,
        rounding=old.rounding,
        margins=old.margins,
    )
    return extract, old


def audience_of(session: Session, publication: Publication) -> list[int]:
    return list(
        session.scalars(
            select(PublicationAudience.account_id)
            .where(PublicationAudience.publication_id == publication.id)
            .order_by(PublicationAudience.account_id)
        )
    )


def _published_to(account: Account) -> Any:
    return or_(
        Publication.all_partners.is_(True),
        Publication.id.in_(
            select(PublicationAudience.publication_id).where(
                PublicationAudience.account_id == account.id
            )
        ),
    )


def readable(session: Session, account: Account, public_id: str) -> Release:
    """A release the account may read, or 404: the same answer as for one that does not exist.

    Staff read everything; researchers read releases of datasets granted to them; partners
    read what was published to them and the releases of their own ad-hoc queries. A release
    that failed answers as its query did: ``release_failed``.
    """
    release = _readable(session, account, public_id)
    if release.failed:
        raise ReleaseFailed("this release failed; it holds no table")
    return release


def _readable(session: Session, account: Account, public_id: str) -> Release:
    release = (
        releases_repo.by_public_id(session, public_id) if RELEASE_ID.fullmatch(public_id) else None
    )
    if release is not None:
        if account.role == "admin":
            return release
        if account.role == "researcher":
            if session.get(Grant, (account.id, release.dataset_id)) is not None:
                return release
        elif release.account_id == account.id or session.scalar(
            select(func.count())
            .select_from(Publication)
            .where(Publication.release_id == release.id, _published_to(account))
        ):
            return release
    raise NotFound(f"no release {public_id[:40]!r} is available to this account")


def publication_for(session: Session, account: Account, release: Release) -> Publication | None:
    """The newest publication of a release that this account may see (any, for staff)."""
    query = select(Publication).where(Publication.release_id == release.id)
    if account.role == "partner":
        query = query.where(_published_to(account))
    return session.scalars(query.order_by(Publication.id.desc()).limit(1)).one_or_none()


def listed(session: Session, account: Account) -> list[tuple[Release, Publication | None]]:
    """Releases for ``GET /v1/releases``: extracts published to the caller (all of them for
    staff), and the caller's own query releases; newest first."""
    items: list[tuple[Release, Publication | None]] = []
    if account.role != "researcher":
        query = (
            select(Release, Publication)
            .options(defer(Release.body))
            .join(Publication, Publication.release_id == Release.id)
        )
        if account.role == "partner":
            query = query.where(_published_to(account))
        items += [(r, p) for r, p in session.execute(query.order_by(Publication.id.desc()))]
    own = session.scalars(
        select(Release)
        .options(defer(Release.body))
        .where(Release.account_id == account.id, Release.kind == "query")
        .order_by(Release.id.desc())
        .limit(1000)
    )
    items += [(r, None) for r in own]
    return items


def downloads(session: Session, release: Release) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.canonical_key == release.canonical_key, AuditEntry.action == "download"
            )
        )
        or 0
    )


def describe(
    session: Session, publication: Publication, charged: str | None = None
) -> dict[str, Any]:
    """A publication for staff: what, for whom, at what ε, and how often downloaded."""
    release = session.get(Release, publication.release_id)
    dataset = session.get(Dataset, release.dataset_id) if release else None
    assert release is not None and dataset is not None
    meta = extracts.metadata(release, dataset)
    audience: list[str | int] = (
        [ALL_PARTNERS] if publication.all_partners else list(audience_of(session, publication))
    )
    return {
        "publication_id": publication.id,
        "release_id": release.public_id,
        "title": publication.title,
        "description": publication.description,
        "dataset": meta["dataset"],
        "dataset_version": meta["dataset_version"],
        "epsilon": meta["epsilon"],
        "epsilon_charged": charged if charged is not None else meta["epsilon"],
        "audience": audience,
        "rounding": publication.rounding,
        "margins": publication.margins,
        "replaces": publication.replaces_id,
        "downloads": downloads(session, release),
        "published_at": publication.created_at,
    }


def described(session: Session, limit: int = 1000) -> list[dict[str, Any]]:
    """The newest publications, described for staff."""
    found = session.scalars(select(Publication).order_by(Publication.id.desc()).limit(limit))
    return [describe(session, p) for p in found]
