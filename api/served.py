"""A release served: stored, or new; what a caller gets back either way.

A stored release is returned at the requested confidence: its intervals are recomputed from
the noisy cells and policy it stored (never from today's settings), free. A new one is
claimed under its canonical key and charged before its data is read, then computed (total),
stored and audited (``charge_and_release``); a failure after the read is charged and audited
all the same and answered by ``ReleaseFailed``, the same on every repeat.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from sqlalchemy.orm import Session

import privacy
from api import columns as api_columns
from api import extracts, metrics, releases, tables
from api.errors import BudgetExhausted, ReleaseFailed
from api.releases import Prepared, Resolved
from schema import generation
from schema.access import Account, Publication, QueryBudget, Release, ReleaseKind
from schema.db import is_busy, undone_on_error
from schema.repositories import audit
from schema.repositories import releases as releases_repo

log = logging.getLogger("amaan.releases")


@dataclass
class Released:
    release: Release
    cached: bool
    epsilon_charged: privacy.Epsilon
    remaining_micro: int | None  # the account's budget left after this request
    stored: bytes | None  # the table as JSON (UTF-8, rows), when that is what was read
    publication: Publication | None = None  # the publication, for staff publishing
    statistic: dict[str, Any] | None = None  # api.statistics.block, when one was asked
    columns: dict[str, Any] | None = None  # a new release's body, in columns, as built
    parsed: dict[str, object] | None = None  # ``body``, once made

    @property
    def content(self) -> bytes:
        """The table as JSON (UTF-8, the row form), intervals at the requested confidence; a
        new release's made from its columns when first asked for."""
        if self.stored is None:
            self.stored = orjson.dumps(self.body)
        return self.stored

    @property
    def body(self) -> dict[str, object]:
        """The table in the row form, parsed (not to be changed)."""
        if self.parsed is None:
            if self.columns is not None:
                self.parsed = api_columns.to_rows(self.columns)
            else:
                self.parsed = json.loads(self.content)
        return self.parsed


def left(budget: QueryBudget | None, spent: int | None = None) -> int | None:
    if budget is None:
        return None
    return budget.limit_micro - (budget.spent_micro if spent is None else spent)


def hit(
    session: Session,
    account: Account,
    r: Resolved,
    release: Release,
    budget: QueryBudget | None,
    kind: ReleaseKind,
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
    metrics.CACHE_HITS.labels(kind).inc()
    if release.failed:
        raise failed()
    return Released(release, True, privacy.ZERO, left(budget), shown(release, r.confidence))


def shown(release: Release, confidence: float) -> bytes:
    """The stored body, or the same release with its intervals at the requested confidence,
    recomputed from what the release stored (never from today's settings)."""
    stored = extracts.body(release)
    # The confidence first: it is kept per worker, while ``noisy`` is read from the database.
    if extracts.summary(release)["confidence"] == confidence or release.noisy is None:
        return stored
    noise = json.loads(release.noisy)
    if not isinstance(noise, dict):  # stored before releases kept their policy
        return stored
    return extracts.rendered(
        release,
        confidence,
        lambda: tables.encode(tables.at_confidence(json.loads(stored), noise, confidence)),
    )


def kept(session: Session, key: str) -> Release | None:
    """The release of a canonical key if this worker keeps it (``schema.generation``), made
    this session's without a read; None when it does not (stored or not)."""
    found: Release | None = generation.get(session, ("release", key))
    return None if found is None else releases_repo.attach(session, found)


def stored(session: Session, key: str) -> Release | None:
    """The release of a canonical key: a release is immutable once another transaction sees
    it, so it is kept per worker (``schema.generation``) and attached to this session
    without a read (its body still loads on demand)."""
    found = kept(session, key)
    if found is not None:
        return found
    found = releases_repo.find(session, key)
    if found is None or generation.cache_of(session) is None:
        return found
    generation.put(session, ("release", key), found)
    return releases_repo.attach(session, found)


def charge_and_release(
    session: Session,
    account: Account,
    p: Prepared,
    budget: QueryBudget | None,
    kind: ReleaseKind,
) -> Released:
    """A new release, or the stored one when the query turns out to be stored (its claim
    finds it, committed or committing in another transaction: nothing is charged)."""
    # Everything of a new release in one savepoint: should the database be too busy to finish
    # (a bounded wait ran out) or the charge be refused, the claim and the charge go with it
    # and the caller may retry (or audit the refusal).
    with session.begin_nested():
        released = _claim_charge_release(session, account, p, budget, kind)
    if released == "failed":  # failed after the read: kept, charged and audited, then answered
        raise failed()
    if released == "held":  # an identical query was released: that one, as a cache hit
        existing = stored(session, p.canonical.key)
        assert existing is not None
        return hit(session, account, p.resolved, existing, budget, kind)
    return released


def _claim_charge_release(
    session: Session, account: Account, p: Prepared, budget: QueryBudget | None, kind: ReleaseKind
) -> Released | Literal["failed", "held"]:
    # A refused charge raises out of the caller's savepoint, which undoes the claim with it.
    claimed, spent = _claim_and_charge(
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
    if claimed is None:  # stored, or being stored by another transaction (now committed)
        return "held"
    entry: dict[str, Any] = {
        "action": kind,
        "outcome": "released",
        "account_id": account.id,
        "dataset_id": p.dataset.id,
        "version_id": p.version.id,
        "canonical_key": p.canonical.key,
        "epsilon_micro": p.plan.epsilon.micro,
        "detail": {"release": claimed.public_id},
    }
    made = _compute_and_store(session, p, claimed, entry)  # audited with its body
    if made is None:
        audit.append(session, **(entry | {"outcome": "failed"}))
        return "failed"
    # Made at the requested confidence (the plan's), so served as it was stored.
    return Released(claimed, False, p.plan.epsilon, left(budget, spent), None, columns=made)


def _claim_and_charge(session: Session, release: Release) -> tuple[Release | None, int | None]:
    """The claim and its charge (``releases_repo.claim_and_charge``: one statement on
    PostgreSQL); a refused charge as the API's refusal."""
    try:
        return releases_repo.claim_and_charge(
            session, release, charge_account=release.kind != "publication"
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


def _compute_and_store(
    session: Session, p: Prepared, claimed: Release, entry: dict[str, Any]
) -> dict[str, Any] | None:
    """Read, release and store: the body in columns (``api.columns``; stored compressed),
    with its audit ``entry`` (one statement on PostgreSQL); None when anything failed (the
    release is then marked failed, and nothing of this is kept: the caller audits that).

    Nothing here refuses: the charge is made and stays. The one exception is a database too
    busy to answer in time (``is_busy``): nothing was released, so it is re-raised and the
    caller's savepoint undoes the claim and the charge. What is logged is the error's type,
    never its message (which could hold a value)."""
    try:
        # A database error here leaves the transaction usable (undone to this savepoint, which
        # the caller's releases with its own).
        with undone_on_error(session, "amaan_release_read"):
            released = releases.compute(session, p)
            body = tables.in_columns(p, released)
            packed = api_columns.pack(body)
            noise = tables.stored_noise(released)
            releases_repo.fill(session, claimed, "", noise, packed, entry)
        return body
    except Exception as exc:
        if is_busy(exc):
            raise
        log.error(
            "release %s failed after its data was read: %s",
            claimed.public_id,
            type(exc).__name__,
        )
        releases_repo.fail(session, claimed)
        return None


def failed() -> ReleaseFailed:
    err = ReleaseFailed(
        "this release failed; its ε was charged, and asking again returns this same error"
    )
    err.recorded = True
    return err
