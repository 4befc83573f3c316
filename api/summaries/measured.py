"""A planned summary claimed, charged, read, measured and stored (``api.summaries.publish``
plans it; ``api.answers`` calls both).

The claim and the charge are made in one savepoint before the read; the read, the OpenDP
measurements and the storing after it are total (shapes come from the public design), and
a failure there is kept, charged and audited like a failed release.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

import privacy
from api.errors import BudgetExhausted, ReleaseFailed
from api.releases import key_order
from api.summaries import stored
from api.summaries.publish import Planned
from privacy.summary import MONTH, Slice, measure_summary
from schema.access import Account, Release, StoredSummary
from schema.db import is_busy
from schema.repositories import audit
from schema.repositories import releases as releases_repo
from schema.repositories import summaries as summaries_repo
from schema.repositories.warehouse import count_cases

log = logging.getLogger("amaan.releases")


@dataclass
class Published:
    release: Release
    summary: StoredSummary
    cached: bool
    epsilon_charged: privacy.Epsilon


def read(session: Session, p: Planned) -> dict[Slice, list[int]]:
    """The true cells of the new slices: one GROUP BY per table. Private: only the OpenDP
    measurement sees them. Keys come from the public design; the warehouse only fills them."""
    out: dict[Slice, list[int]] = {}
    period = (p.months[0], p.months[-1])
    for t in p.design.tables:
        wanted = [s for s in p.new if s[0] == t.name]
        if not wanted:
            continue
        grain = MONTH if t.time == MONTH else "year"
        if t.distinct_of is not None:
            dim = t.distinct_of.dimension
            counts = count_cases(session, p.version.id, [grain, dim], None, period)
            for name, when in wanted:
                out[(name, when)] = [sum(1 for k, v in counts.items() if k[0] == when and v > 0)]
            continue
        dims = [a.dimension for a in t.axes]
        counts = count_cases(session, p.version.id, [grain, *dims], None, period)
        keys = key_order(list(t.axes))
        for name, when in wanted:
            out[(name, when)] = [counts.get((when, *k), 0) for k in keys]
    return out


def publish(session: Session, staff: Account, p: Planned) -> Published:
    with session.begin_nested():
        with session.begin_nested():  # a refused charge undoes the claim
            claimed = releases_repo.claim(
                session,
                Release(
                    canonical_key=p.key,
                    dataset_id=p.dataset.id,
                    version_id=p.version.id,
                    account_id=staff.id,
                    kind="summary",
                    query=json.dumps(p.form),
                    epsilon_micro=p.charge.micro,
                ),
            )
            if claimed is not None and p.charge.micro > 0:
                _charge(session, staff, p, claimed)
        if claimed is None:  # the same summary was published while we checked
            return _hit(session, staff, p)
        row = _measure_and_store(session, p, claimed)
        charged = p.charge.micro > 0
        outcome = ("released" if charged else "extended") if row else "failed"
        audit.append(
            session,
            action="summary",
            outcome=outcome if charged or row else "failed_uncharged",
            account_id=staff.id,
            dataset_id=p.dataset.id,
            version_id=p.version.id,
            canonical_key=p.key,
            epsilon_micro=p.charge.micro if charged else None,
            detail={
                "release": claimed.public_id,
                "template": p.template,
                "measured": len(p.new),
                "copied": len(p.copied),
            },
        )
    if row is None:
        err = ReleaseFailed(
            "this summary failed; its ε was charged, and asking again returns this same error"
        )
        err.recorded = True
        raise err
    return Published(claimed, row, False, p.charge)


def _hit(session: Session, staff: Account, p: Planned) -> Published:
    existing = releases_repo.find(session, p.key)
    assert existing is not None
    audit.append(
        session,
        action="summary",
        outcome="cache_hit",
        account_id=staff.id,
        dataset_id=p.dataset.id,
        version_id=p.version.id,
        canonical_key=p.key,
    )
    found = summaries_repo.of_release(session, existing.id)
    if existing.failed or found is None:
        err = ReleaseFailed("this summary failed; asking again returns this same error")
        err.recorded = True
        raise err
    return Published(existing, found, True, privacy.ZERO)


def _charge(session: Session, staff: Account, p: Planned, claimed: Release) -> None:
    try:
        releases_repo.charge(
            session,
            account_id=staff.id,
            dataset_id=p.dataset.id,
            release_id=claimed.id,
            epsilon_micro=p.charge.micro,
            kind="summary",
            charge_account=False,
        )
    except releases_repo.BudgetExceeded as exc:
        err = BudgetExhausted(
            f"this summary needs ε {privacy.Epsilon(exc.asked_micro)}; the dataset cap has "
            f"ε {privacy.Epsilon(exc.remaining_micro)} left",
            limit=exc.limit,
            remaining=str(privacy.Epsilon(exc.remaining_micro)),
            asked=str(privacy.Epsilon(exc.asked_micro)),
        )
        err.code = f"{exc.limit}_exceeded"
        raise err from None


def _measure_and_store(session: Session, p: Planned, claimed: Release) -> StoredSummary | None:
    """Read, measure, store; None when anything failed (the release is then marked failed).
    What is logged is the error's type, never its message."""
    try:
        with session.begin_nested():
            truth = read(session, p)
            measured = list(p.copied)
            noisy = measure_summary(p.plan, truth, p.months, measured) if truth else {}
            charged = dict(json.loads(p.extends.charged)) if p.extends else {}
            for name, plan in p.plan.plans.items():
                charged[name] = max(int(charged.get(name, 0)), plan.epsilon.micro)
            row = summaries_repo.add(
                session,
                StoredSummary(
                    release_id=claimed.id,
                    dataset_id=p.dataset.id,
                    version_id=p.version.id,
                    template=p.template,
                    year=p.year,
                    first_month=p.months[0],
                    last_month=p.months[-1],
                    design=p.design_json,
                    scales=json.dumps({k: v.scale for k, v in p.plan.plans.items()}),
                    charged=json.dumps(charged),
                    slices=stored.slices_json({**p.copied, **noisy}),
                    measured=len(noisy),
                    extends_id=None if p.extends is None else p.extends.id,
                ),
            )
            releases_repo.fill(session, claimed, json.dumps(describe(p, claimed)), "")
        return row
    except Exception as exc:
        if is_busy(exc):
            raise
        log.error(
            "summary %s failed after its data was read: %s", claimed.public_id, type(exc).__name__
        )
        releases_repo.fail(session, claimed)
        return None


def describe(p: Planned, claimed: Release) -> dict[str, Any]:
    """The public description of a summary: its design and charge, no number from data."""
    return {
        "release_id": claimed.public_id,
        "dataset": p.dataset.slug,
        "dataset_version": p.version.number,
        "template": p.template,
        "year": p.year,
        "first_month": p.months[0],
        "last_month": p.months[-1],
        "epsilon": str(p.plan.epsilon),
        "epsilon_charged": str(p.charge),
        "tables": [
            {
                "name": t.name,
                "dimensions": [a.dimension for a in t.axes],
                "time": t.time,
                "epsilon": str(p.plan.plans[t.name].epsilon),
                "noise_scale": p.plan.scale(t.name),
            }
            for t in p.design.tables
        ],
        "measured_slices": len(p.new),
        "copied_slices": len(p.copied),
        "extends": p.extends_release,
    }
