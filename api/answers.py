"""The one entry to the release pipeline, for every interface: ``answer()``.

REST, GraphQL, the staff page and the CLI call it for every estimate, query, publication and
republication, so each is refused, cached, charged and audited the same way:

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
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from typing import overload

from sqlalchemy.orm import Session

import privacy
from api import extracts, releases, tables
from api.errors import AmaanError, BudgetExhausted, Forbidden, ReleaseFailed
from api.releases import CountQuery, Prepared, Resolved
from api.staff import publications
from api.staff.publications import Extract
from schema.access import Account, AccountBudget, Publication, Release
from schema.db import is_busy
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


Ask = Estimate | Count | Publish | Republish


@dataclass
class Costed:
    """What a query would cost, and whether it is cached; nothing was spent."""

    prepared: Prepared
    cached: bool


@dataclass
class Released:
    release: Release
    cached: bool
    epsilon_charged: privacy.Epsilon
    remaining_micro: int | None  # the account's budget left after this request
    content: bytes  # the table as JSON (UTF-8), intervals at the requested confidence
    publication: Publication | None = None

    @property
    def body(self) -> dict[str, object]:
        parsed: dict[str, object] = json.loads(self.content)
        return parsed


@overload
def answer(session: Session, account: Account, ask: Estimate, settings: Settings) -> Costed: ...
@overload
def answer(
    session: Session, account: Account, ask: Count | Publish | Republish, settings: Settings
) -> Released: ...
def answer(session: Session, account: Account, ask: Ask, settings: Settings) -> Costed | Released:
    try:
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
        raise


def record_refusal(session: Session, account: Account, ask: Ask, exc: AmaanError) -> None:
    """Audit a refusal (the caller then commits rather than rolls back: ``exc.recorded``)."""
    action = {Estimate: "estimate", Count: "query"}.get(type(ask), "publication")
    if isinstance(ask, Republish):
        detail: dict[str, object] = {"publication": ask.publication_id}
    else:
        query = ask.extract.query if isinstance(ask, Publish) else ask.query
        detail = {"dataset": query.dataset[:64], "group_by": [g[:40] for g in query.group_by[:10]]}
    audit.append(
        session, action=action, outcome=exc.code[:48], account_id=account.id, detail=detail
    )
    exc.recorded = True


def _estimate(session: Session, account: Account, query: CountQuery, settings: Settings) -> Costed:
    p = releases.prepare(releases.resolve(session, account, query, settings), settings)
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
    return Costed(p, cached)


def _count(
    session: Session, account: Account, query: CountQuery, settings: Settings, kind: str
) -> Released:
    """A stored release, or a new one paid for in this transaction. ``kind="publication"``:
    staff publishing an extract, charged to the dataset's cap only."""
    r = releases.resolve(session, account, query, settings)
    budget = releases_repo.budget_of(session, account.id, r.dataset.id) if kind == "query" else None
    if kind == "query" and budget is None:
        raise Forbidden(
            "this account has no query budget on this dataset; partners download the "
            "extracts published to them from GET /v1/releases",
            dataset=r.dataset.slug,
        )
    # The cache is keyed by ε: a query by margin of error is planned first to learn its ε.
    p = None if r.epsilon is not None else releases.prepare(r, settings)
    canonical = (
        p.canonical if p is not None else r.canonical.with_epsilon(r.epsilon or privacy.ZERO)
    )
    hit = releases_repo.find(session, canonical.key)
    if hit is not None:
        return _hit(session, account, r, hit, budget, kind)
    return _new(session, account, p or releases.prepare(r, settings), budget, kind)


def _left(budget: AccountBudget | None, spent: int | None = None) -> int | None:
    if budget is None:
        return None
    return budget.limit_micro - (budget.spent_micro if spent is None else spent)


def _hit(
    session: Session,
    account: Account,
    r: Resolved,
    release: Release,
    budget: AccountBudget | None,
    kind: str,
) -> Released:
    audit.append(
        session,
        action=kind,
        outcome="cache_hit",
        account_id=account.id,
        dataset_id=release.dataset_id,
        version_id=release.version_id,
        canonical_key=release.canonical_key,
    )
    if release.failed:
        raise _failed()
    content = _content(release, r.confidence)
    return Released(release, True, privacy.ZERO, _left(budget), content)


def _content(release: Release, confidence: float) -> bytes:
    """The stored body, or the same release with its intervals at the requested confidence,
    recomputed from what the release stored (never from today's settings)."""
    stored = extracts.body(release)
    if release.noisy is None or extracts.summary(release)["confidence"] == confidence:
        return stored
    noise = json.loads(release.noisy)
    if not isinstance(noise, dict):  # stored before releases kept their policy
        return stored
    return extracts.rendered(
        release,
        confidence,
        lambda: tables.encode(tables.at_confidence(json.loads(stored), noise, confidence)),
    )


def _new(
    session: Session,
    account: Account,
    p: Prepared,
    budget: AccountBudget | None,
    kind: str,
) -> Released:
    # Everything of a new release in one savepoint: should the database be too busy to finish
    # (a bounded wait ran out), the claim and the charge go with it and the caller may retry.
    with session.begin_nested():
        released = _claim_charge_release(session, account, p, budget, kind)
    if released is None:  # failed after the read: kept, charged and audited, then answered
        raise _failed()
    return released


def _claim_charge_release(
    session: Session, account: Account, p: Prepared, budget: AccountBudget | None, kind: str
) -> Released | None:
    with session.begin_nested():  # a refused charge undoes the claim
        claimed = releases_repo.claim(
            session,
            Release(
                canonical_key=p.canonical.key,
                dataset_id=p.dataset.id,
                version_id=p.version.id,
                account_id=account.id,
                kind=kind,
                query=json.dumps(p.canonical.form),
                epsilon_micro=p.plan.epsilon.micro,
            ),
        )
        spent = None if claimed is None else _charge(session, account, p, claimed, kind)
    if claimed is None:  # an identical query was released while we checked: use that one
        existing = releases_repo.find(session, p.canonical.key)
        assert existing is not None
        return _hit(session, account, p.resolved, existing, budget, kind)
    failed = not _compute_and_store(session, p, claimed)
    audit.append(
        session,
        action=kind,
        outcome="failed" if failed else "released",
        account_id=account.id,
        dataset_id=p.dataset.id,
        version_id=p.version.id,
        canonical_key=p.canonical.key,
        epsilon_micro=p.plan.epsilon.micro,
        detail={"release": claimed.public_id},
    )
    if failed:
        return None
    content = _content(claimed, p.resolved.confidence)
    return Released(claimed, False, p.plan.epsilon, _left(budget, spent), content)


def _charge(
    session: Session, account: Account, p: Prepared, claimed: Release, kind: str
) -> int | None:
    try:
        return releases_repo.charge(
            session,
            account_id=account.id,
            dataset_id=p.dataset.id,
            release_id=claimed.id,
            epsilon_micro=p.plan.epsilon.micro,
            kind=kind,
            charge_account=kind != "publication",
        )
    except releases_repo.BudgetExceeded as exc:
        err = BudgetExhausted(
            f"this query needs ε {privacy.Epsilon(exc.asked_micro)}; the "
            f"{exc.limit.replace('_', ' ')} has ε {privacy.Epsilon(exc.remaining_micro)} left",
            limit=exc.limit,
            remaining=str(privacy.Epsilon(exc.remaining_micro)),
            asked=str(privacy.Epsilon(exc.asked_micro)),
        )
        err.code = f"{exc.limit}_exceeded"
        raise err from None


def _compute_and_store(session: Session, p: Prepared, claimed: Release) -> bool:
    """Read, release and store; False when anything failed (the release is then marked failed).

    Nothing here refuses: the charge is made and stays. The one exception is a database too
    busy to answer in time (``is_busy``): nothing was released, so it is re-raised and the
    caller's savepoint undoes the claim and the charge. What is logged is the error's type,
    never its message (which could hold a value)."""
    try:
        with session.begin_nested():  # a database error here leaves the transaction usable
            released = releases.compute(session, p)
            content = tables.encode(tables.body(p, released))
            releases_repo.fill(session, claimed, content, tables.stored_noise(released))
        return True
    except Exception as exc:
        if is_busy(exc):
            raise
        log.error(
            "release %s failed after its data was read: %s",
            claimed.public_id,
            type(exc).__name__,
        )
        releases_repo.fail(session, claimed)
        return False


def _failed() -> ReleaseFailed:
    err = ReleaseFailed(
        "this release failed; its ε was charged, and asking again returns this same error"
    )
    err.recorded = True
    return err


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
