"""The one entry to the release pipeline, for every interface: ``answer()``.

REST, GraphQL, the staff page and the CLI call it for every estimate, query, publication,
republication and summary (``Summarise``: ``api.summaries``), so each is refused, cached,
charged and audited the same way:

1. Everything that can refuse runs before any case data is read (``api.releases``). A refusal
   undoes what the request wrote for it, is audited here, and is raised with ``recorded`` set:
   the caller commits the audit entry instead of rolling it back.
2. A cached release is returned at the requested confidence (intervals are post-processing of
   its stored noisy cells), free, and audited.
3. A new release is claimed under its canonical key and charged (conditional updates) before
   the data is read; then it is computed (total), stored, put in the ledger and audited, all in
   the caller's transaction, which is committed before the response. An unexpected error after
   the read is still charged and audited, and answered by ``ReleaseFailed``, the same on every
   repeat: retrying a failure never buys fresh noise.
4. A statistic asked of a count (a share, change or rate, ``api.statistics``) is checked with
   the other refusals and computed from the table served, new, cached or derived from a
   summary: it is not part of the canonical key and costs nothing more.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import overload

from sqlalchemy.orm import Session

import privacy
from api import metrics, releases, served, statistics, tables
from api.errors import AmaanError, Forbidden, InvalidQuery
from api.releases import CountQuery, Prepared
from api.served import Released as Released  # re-exported: what answer() returns
from api.staff import publications
from api.staff.publications import Extract
from api.summaries import derived, measured
from api.summaries.measured import Published
from api.summaries.publish import Summarise as Summarise  # re-exported: an ask
from api.summaries.publish import prepare as prepare_summary
from schema.access import Account, AuditAction, Publication, QueryBudget, ReleaseKind
from schema.repositories import audit
from schema.repositories import releases as releases_repo
from schema.settings import Settings

log = logging.getLogger("amaan.releases")


@dataclass(frozen=True)
class Estimate:
    query: CountQuery


@dataclass(frozen=True)
class Count:
    query: CountQuery


@dataclass(frozen=True)
class Publish:
    extract: Extract


@dataclass(frozen=True)
class Republish:
    publication_id: int


Ask = Estimate | Count | Publish | Republish | Summarise


@dataclass
class Costed:
    """What a query would cost, and whether it is cached; nothing was spent."""

    prepared: Prepared
    cached: bool
    summary: derived.Foresight  # what the version's summary says of it (free)


@overload
def answer(session: Session, account: Account, ask: Estimate, settings: Settings) -> Costed: ...
@overload
def answer(
    session: Session, account: Account, ask: Count | Publish | Republish, settings: Settings
) -> Released: ...
@overload
def answer(session: Session, account: Account, ask: Summarise, settings: Settings) -> Published: ...
def answer(
    session: Session, account: Account, ask: Ask, settings: Settings
) -> Costed | Released | Published:
    try:
        if isinstance(ask, Summarise):  # staff: a summary, checked in full before the read
            return measured.publish(
                session, account, prepare_summary(session, account, ask, settings)
            )
        if isinstance(ask, Estimate):
            return _estimate(session, account, ask.query, settings)
        if isinstance(ask, Count):
            return _count(session, account, ask.query, settings, "query")
        if isinstance(ask, Publish):
            return _publish(session, account, ask.extract, settings)
        extract, old = publications.for_republishing(session, ask.publication_id)
        return _publish(session, account, extract, settings, replaces=old)
    except AmaanError as exc:
        if not exc.recorded:
            record_refusal(session, account, ask, exc)
        metrics.REFUSALS.labels(exc.code[:48]).inc()
        raise


def record_refusal(session: Session, account: Account, ask: Ask, exc: AmaanError) -> None:
    """Audit a refusal (the caller then commits rather than rolls back: ``exc.recorded``)."""
    actions: dict[type, AuditAction] = {
        Estimate: "estimate",
        Count: "query",
        Summarise: "summary",
    }
    action = actions.get(type(ask), "publication")
    if isinstance(ask, Summarise):
        detail: dict[str, object] = {"dataset": ask.dataset[:64], "template": ask.template[:40]}
    elif isinstance(ask, Republish):
        detail = {"publication": ask.publication_id}
    else:
        query = ask.extract.query if isinstance(ask, Publish) else ask.query
        detail = {"dataset": query.dataset[:64], "group_by": [g[:40] for g in query.group_by[:10]]}
    audit.append(
        session, action=action, outcome=exc.code[:48], account_id=account.id, detail=detail
    )
    exc.recorded = True


def _estimate(session: Session, account: Account, query: CountQuery, settings: Settings) -> Costed:
    r = releases.resolve(session, account, query, settings)
    statistics.check(query.statistic, r)
    p = releases.prepare(r, settings)
    cached = releases_repo.find(session, p.canonical.key) is not None
    audit.append(
        session,
        action="estimate",
        outcome="cached" if cached else "estimated",
        account_id=account.id,
        dataset_id=p.dataset.id,
        version_id=p.version.id,
        canonical_key=p.canonical.key,
        epsilon_micro=p.plan.epsilon.micro,
    )
    return Costed(p, cached, derived.foresee(session, p, settings.sensitive_values))


def _count(
    session: Session, account: Account, query: CountQuery, settings: Settings, kind: ReleaseKind
) -> Released:
    """A stored release, or a new one paid for in this transaction. ``kind="publication"``:
    staff publishing an extract, charged to the dataset's cap only."""
    r = releases.resolve(session, account, query, settings)
    statistic = statistics.check(query.statistic, r)
    budget = r.budget if kind == "query" else None
    if kind == "query" and budget is None:
        raise Forbidden(
            "this account has no query budget on this dataset; partners download the "
            "extracts published to them from GET /v1/releases",
            dataset=r.dataset.slug,
        )
    # The cache is keyed by ε: a query by margin of error is planned first to learn its ε.
    p = None if r.epsilon is not None else releases.prepare(r, settings)
    if kind == "query" and query.source != "direct":
        p = p or releases.prepare(r, settings)
        only = query.source == "summary"
        free = _derived(session, account, p, budget, only, statistic)
        if free is not None:
            return free
    canonical = (
        p.canonical if p is not None else r.canonical.with_epsilon(r.epsilon or privacy.ZERO)
    )
    # A release this worker keeps is served at once. Otherwise the query is claimed without
    # looking for it first: a stored release makes the claim find it, charging nothing
    # (``served.charge_and_release``), one round trip fewer for every new release.
    found = served.kept(session, canonical.key)
    if found is None and p is None:
        try:
            p = releases.prepare(r, settings)
        except AmaanError:  # a stored release is served even where today's plan refuses
            found = served.stored(session, canonical.key)
            if found is None:
                raise
    if found is not None:
        released = served.hit(session, account, r, found, budget, kind)
    else:
        assert p is not None
        released = served.charge_and_release(session, account, p, budget, kind)
    if statistic is not None:  # post-processing of the release served: nothing charged
        released.statistic = statistics.block(
            statistic, released.release, released.content, r.confidence
        )
    return released


def _derived(
    session: Session,
    account: Account,
    p: Prepared,
    budget: QueryBudget | None,
    only: bool,
    statistic: statistics.Statistic | None,
) -> Released | None:
    """A covered query answered from the version's summary, with its statistic if one is
    asked: free, audited (no charge)."""
    found = derived.covered(session, p)
    if found is None:
        if only:
            raise InvalidQuery(
                "no published summary of this dataset version covers this query (its grouped "
                "and filtered dimensions within one measured table, over months it covers)",
                field="source",
                valid=["direct"],
            )
        return None
    release = releases_repo.by_public_id(session, found.public_id)
    assert release is not None
    confidence = p.resolved.confidence
    shown = derived.body(p, found, derived.answer(found, confidence))
    content = tables.encode(shown)
    audit.append(
        session,
        action="query",
        outcome="derived",
        account_id=account.id,
        dataset_id=p.dataset.id,
        version_id=p.version.id,
        canonical_key=p.canonical.key,
        detail={"derived_from": found.public_id},
    )
    out = Released(release, False, privacy.ZERO, served.left(budget), content.encode("utf-8"))
    if statistic is not None:  # from the derived cells' exact noise weights
        out.statistic = statistics.render(
            statistic, p.axes, shown, confidence, lambda hidden: derived.table(found, p, hidden)
        )
    return out


def _publish(
    session: Session,
    staff: Account,
    extract: Extract,
    settings: Settings,
    replaces: Publication | None = None,
) -> Released:
    audience = publications.check(session, extract)
    query = replace(extract.query, rounding=extract.rounding, margins=extract.margins)
    released = _count(session, staff, query, settings, "publication")
    released.publication = publications.record(
        session, staff, extract, audience, released.release, released.epsilon_charged, replaces
    )
    return released
