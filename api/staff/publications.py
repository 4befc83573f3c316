"""Extracts staff publish to partners: the checks before anything is released, the record of
a publication, what republishing asks for, and publications as staff see them.

A publication is released once through the release pipeline (``api.answers``: charged to the
dataset's cap as a publication by the staff account) and stored immutable. Who may read
which release is ``api.publications``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from api import extract_table, extracts, releases
from api.errors import Conflict, InvalidQuery, NotFound
from privacy import Epsilon
from schema.access import Account, Publication, Release
from schema.repositories import accounts as accounts_repo
from schema.repositories import audit
from schema.repositories import publications as publications_repo
from schema.repositories.datasets import latest_version

ALL_PARTNERS = "all-partners"
MAX_AUDIENCE = 1000
_ID = re.compile(r"[1-9][0-9]{0,9}", re.ASCII)


@dataclass
class Extract:
    title: str
    description: str
    query: releases.CountQuery
    audience: list[str | int]
    rounding: int = 5
    margins: bool = False


@dataclass(frozen=True)
class PublicationView:
    """A publication for staff: what, for whom, at what ε, and how often downloaded."""

    publication_id: int
    release_id: str
    title: str
    description: str
    dataset: str
    dataset_version: int
    epsilon: Epsilon
    epsilon_charged: Epsilon  # what this request was charged (the release's ε otherwise)
    audience: list[str | int]
    rounding: int
    margins: bool
    replaces: int | None
    downloads: int
    published_at: datetime


def _audience(session: Session, audience: list[str | int]) -> list[int] | None:
    if not audience:
        raise InvalidQuery(f"name the audience: [{ALL_PARTNERS!r}] or partner account ids")
    if ALL_PARTNERS in audience:
        if len(audience) > 1:
            raise InvalidQuery(f"{ALL_PARTNERS!r} cannot be combined with account ids")
        return None
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
    found = {a.id for a in accounts_repo.active_partners(session, ids)}
    missing = sorted(set(ids) - found)
    if missing:
        raise InvalidQuery(
            "the audience may name only active partner accounts", not_partners=missing
        )
    return ids


def check(session: Session, extract: Extract) -> list[int] | None:
    """Refuse a malformed extract before anything is released; its audience's account ids
    (None: all partners)."""
    if not 1 <= extract.rounding <= 1000:
        raise InvalidQuery("rounding must be a whole number from 1 to 1000", field="rounding")
    return titled(session, extract.title, extract.audience)


def titled(session: Session, title: str, audience: list[str | int]) -> list[int] | None:
    """Refuse an empty or long title and a malformed audience (extracts and reports)."""
    if not title.strip():
        raise InvalidQuery("an extract needs a title", field="title")
    if len(title) > 200:
        raise InvalidQuery("the title is longer than 200 characters", field="title")
    return _audience(session, audience)


def record(
    session: Session,
    staff: Account,
    extract: Extract,
    audience: list[int] | None,
    release: Release,
    charged: Epsilon,
    replaces: Publication | None,
) -> Publication:
    """The publication of a release to its audience, audited."""
    publication = publications_repo.add(
        session,
        release=release,
        title=extract.title.strip(),
        description=extract.description.strip(),
        audience=audience,
        rounding=extract.rounding,
        margins=extract.margins,
        published_by=staff.id,
        replaces=replaces,
        group_by=json.dumps(extract_table.ordered(form_group_by(release), extract.query.group_by)),
    )
    audited(
        session,
        staff,
        publication,
        release,
        charged.micro,
        audience,
        replaces=replaces.id if replaces else None,
    )
    return publication


def audited(
    session: Session,
    staff: Account,
    publication: Publication,
    release: Release,
    epsilon_micro: int,
    audience: list[int] | None,
    **detail: object,
) -> None:
    """The audit entry of a publication (an extract's or a report's), with its audience."""
    audit.append(
        session,
        action="publish",
        outcome="published",
        account_id=staff.id,
        dataset_id=release.dataset_id,
        version_id=release.version_id,
        canonical_key=release.canonical_key,
        epsilon_micro=epsilon_micro,
        detail={
            "publication": publication.id,
            "release": release.public_id,
            "audience": [ALL_PARTNERS] if audience is None else audience,
            **detail,
        },
    )


def form_group_by(release: Release) -> list[str]:
    """The release's dimensions, sorted as its canonical form holds them."""
    found: list[str] = json.loads(release.query)["group_by"]
    return found


def stored_query(release: Release, order: str | None = None) -> releases.CountQuery:
    """The query a release answered, for the dataset's newest version; its dimensions in the
    order a publication kept (``order``, JSON), if any."""
    form = json.loads(release.query)
    period = form["period"]
    return releases.CountQuery(
        dataset=form["dataset"],
        group_by=json.loads(order) if order else form["group_by"],
        filters=form["filters"],
        period=(period["from"], period["to"]),
        epsilon=str(Epsilon(form["epsilon_micro"])),
    )


def _audience_of(session: Session, publication: Publication) -> list[str | int]:
    if publication.all_partners:
        return [ALL_PARTNERS]
    return list(publications_repo.audience_of(session, publication))


def for_republishing(session: Session, publication_id: int) -> tuple[Extract, Publication]:
    """An extract as published before, to publish again for the dataset's newest version (a
    new release, charged anew); 409 when it is already on the newest version."""
    old = publications_repo.get(session, publication_id)
    if old is None:
        raise NotFound(f"no publication {publication_id}")
    release, _ = publications_repo.released(session, old)
    newest = latest_version(session, release.dataset_id)
    if newest is None or newest.id == release.version_id:
        raise Conflict(
            "this extract is already published for the dataset's newest version",
            publication=publication_id,
        )
    extract = Extract(
        title=old.title,
        description=old.description,
        query=stored_query(release, old.group_by),
        audience=_audience_of(session, old),
        rounding=old.rounding,
        margins=old.margins,
    )
    return extract, old


def describe(
    session: Session, publication: Publication, charged: Epsilon | None = None
) -> PublicationView:
    release, dataset = publications_repo.released(session, publication)
    meta = extracts.metadata(release, dataset)
    epsilon = Epsilon.parse(meta["epsilon"])
    return PublicationView(
        publication_id=publication.id,
        release_id=release.public_id,
        title=publication.title,
        description=publication.description,
        dataset=meta["dataset"],
        dataset_version=meta["dataset_version"],
        epsilon=epsilon,
        epsilon_charged=epsilon if charged is None else charged,
        audience=_audience_of(session, publication),
        rounding=publication.rounding,
        margins=publication.margins,
        replaces=publication.replaces_id,
        downloads=publications_repo.downloads(session, release),
        published_at=publication.created_at,
    )


def described(
    session: Session, limit: int = 1000, before: int | None = None
) -> list[PublicationView]:
    """The newest publications (a page: those older than the id ``before``), described."""
    return [describe(session, p) for p in publications_repo.newest(session, limit, before)]
