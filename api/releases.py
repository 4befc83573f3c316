"""The release service: the one place that joins the privacy engine and the warehouse.

canonicalise → cache → policy → GROUP BY in SQL → fill the public key set → OpenDP release →
in the caller's transaction: store the release under its canonical key, charge the budgets,
append the audit entry. The caller commits, and only then responds. The same query through
any interface hits the same cache entry and gets the same numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import privacy
from api import extracts
from api.errors import BudgetExhausted, Forbidden, InvalidQuery, NotFound, PrivacyRefused
from schema.access import Account, AccountBudget, Grant, Release
from schema.codelists import codelists, time_codes
from schema.models import DIMENSIONS, Dataset, DatasetVersion
from schema.repositories import audit
from schema.repositories import releases as releases_repo
from schema.repositories.warehouse import count_cases
from schema.settings import Settings

TIME = ("month", "quarter", "year")


@dataclass(frozen=True)
class CountQuery:
    dataset: str
    group_by: list[str]
    filters: dict[str, list[str]] = field(default_factory=dict)
    period: tuple[str | None, str | None] | None = None
    epsilon: float | str | None = None
    margin_of_error: float | None = None
    confidence: float | None = None
    version: int | None = None
    rounding: int | None = None  # published extracts round to a base (5 by default)
    margins: bool = False

    @property
    def options(self) -> dict[str, Any]:
        """Post-processing choices that change the released table, and so its cache key."""
        chosen: dict[str, Any] = {}
        if self.rounding is not None and self.rounding > 1:
            chosen["rounding"] = self.rounding
        if self.margins:
            chosen["margins"] = True
        return chosen


@dataclass
class Prepared:
    """A query checked against the policy, with its canonical key and public key set.

    Its plan (the OpenDP measurement and the ε it costs) is made on first use, so that a
    cached query never pays for one.
    """

    dataset: Dataset
    version: DatasetVersion
    canonical: privacy.CanonicalQuery
    axes: list[privacy.Axis]
    sensitive_query: bool
    sensitivity: int
    epsilon: privacy.Epsilon | None
    margin_of_error: float | None
    max_cells: int
    _plan: privacy.Plan | None = None

    @property
    def plan(self) -> privacy.Plan:
        if self._plan is None:
            cells = 1
            for axis in self.axes:
                cells *= len(axis.codes)
            try:
                self._plan = privacy.plan_release(
                    sensitivity=self.sensitivity,
                    cells=cells,
                    epsilon=self.epsilon,
                    margin_of_error=self.margin_of_error,
                    confidence=float(self.canonical.form["confidence"]),
                    max_epsilon=privacy.Epsilon(self.dataset.max_per_query_micro),
                    max_cells=self.max_cells,
                )
            except privacy.PrivacyError as exc:
                err = PrivacyRefused(str(exc), **exc.details)
                err.code = exc.code
                raise err from None
        return self._plan


def _dataset_for(
    session: Session, account: Account, slug: str, number: int | None
) -> tuple[Dataset, DatasetVersion]:
    """The dataset, if granted to the account (staff read every dataset), and its version
    ``number`` (the newest when None); one round trip."""
    newest = (
        select(func.max(DatasetVersion.number))
        .where(DatasetVersion.dataset_id == Dataset.id)
        .correlate(Dataset)
        .scalar_subquery()
    )
    row = session.execute(
        select(Dataset, Grant.account_id, DatasetVersion)
        .outerjoin(Grant, (Grant.dataset_id == Dataset.id) & (Grant.account_id == account.id))
        .outerjoin(
            DatasetVersion,
            (DatasetVersion.dataset_id == Dataset.id)
            & (DatasetVersion.number == (newest if number is None else number)),
        )
        .where(Dataset.slug == slug.strip().lower())
    ).one_or_none()
    if row is None or not (row[1] is not None or account.role == "admin"):
        raise NotFound(f"no dataset {slug!r} is available to this account")
    dataset, _, version = row
    if version is None:
        raise NotFound(f"dataset {dataset.slug!r} has no version {number}")
    return dataset, version


def _codes(name: str, period: tuple[str, str]) -> list[str]:
    if name in TIME:
        return time_codes(name, *period)
    return codelists()[name].code_list()


def _check_dimensions(names: list[str], what: str) -> None:
    unknown = [n for n in names if n not in DIMENSIONS]
    if unknown:
        raise InvalidQuery(
            f"unknown {what} dimension(s): {', '.join(unknown)}", valid=list(DIMENSIONS)
        )


@dataclass
class Resolved:
    """A query's dataset, version and canonical form: enough to look it up in the cache."""

    dataset: Dataset
    version: DatasetVersion
    canonical: privacy.CanonicalQuery
    epsilon: privacy.Epsilon | None


def resolve(session: Session, account: Account, query: CountQuery, settings: Settings) -> Resolved:
    dataset, version = _dataset_for(session, account, query.dataset, query.version)
    try:
        epsilon = privacy.Epsilon.parse(query.epsilon) if query.epsilon is not None else None
        canonical = privacy.canonicalise(
            dataset=dataset.slug,
            version=version.number,
            group_by=query.group_by,
            filters=query.filters,
            period=(query.period[0], query.period[1]) if query.period else None,
            epsilon=epsilon,
            margin_of_error=query.margin_of_error,
            confidence=query.confidence or settings.confidence,
            options=query.options,
        )
    except privacy.PrivacyError as exc:
        raise PrivacyRefused(str(exc)) from None
    return Resolved(dataset, version, canonical, epsilon)


def prepare(
    session: Session,
    account: Account,
    query: CountQuery,
    settings: Settings,
    resolved: Resolved | None = None,
) -> Prepared:
    """Check a query against the policy, without touching any case data."""
    r = resolved or resolve(session, account, query, settings)
    dataset, version, canonical, epsilon = r.dataset, r.version, r.canonical, r.epsilon
    group_by = canonical.group_by
    filters: dict[str, list[str]] = canonical.form["filters"]
    _check_dimensions(group_by, "group-by")
    _check_dimensions(list(filters), "filter")
    if len(group_by) > settings.max_group_by:
        raise InvalidQuery(f"group by at most {settings.max_group_by} dimensions")
    start, end = canonical.form["period"]["from"], canonical.form["period"]["to"]
    period = (start or version.first_month, end or version.last_month)
    if period[0] < version.first_month or period[1] > version.last_month:
        raise InvalidQuery(
            f"the period must lie within {version.first_month} to {version.last_month}",
            first_month=version.first_month,
            last_month=version.last_month,
        )
    for name, values in filters.items():
        valid = _codes(name, period)
        bad = sorted(set(values) - set(valid))
        if bad:
            raise InvalidQuery(
                f"unknown {name} code(s): {', '.join(bad)}", dimension=name, valid=valid
            )
    sensitive = settings.sensitive_values
    axes = []
    for name in canonical.group_by:
        codes = _codes(name, period)
        if name in canonical.form["filters"]:
            wanted = set(canonical.form["filters"][name])
            codes = [c for c in codes if c in wanted]
        axes.append(privacy.Axis(name, tuple(codes), frozenset(sensitive.get(name, []))))
    sensitivity = privacy.l1_sensitivity(
        dataset.max_cases_per_person,
        {"vulnerable_group": dataset.max_vulnerable_groups, "referral": dataset.max_referrals},
        canonical.group_by,
    )
    sensitive_query = any(
        v in sensitive.get(name, []) for name, vs in canonical.form["filters"].items() for v in vs
    )
    return Prepared(
        dataset,
        version,
        canonical,
        axes,
        sensitive_query,
        sensitivity,
        epsilon,
        query.margin_of_error,
        settings.max_cells,
    )


def estimate(
    session: Session, account: Account, query: CountQuery, settings: Settings
) -> tuple[Prepared, bool]:
    """Cost a query and say whether it is cached; spends nothing, and is audited."""
    p = prepare(session, account, query, settings)
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
    return p, cached


def _labels(axis: privacy.Axis) -> dict[str | None, dict[str, Any]]:
    """Each code of an axis (and its total, ``None``) with its English and Urdu label."""
    name = axis.dimension
    total = {"dimension": name, "code": "TOTAL", "label": "Total", "label_ur": "کل"}
    if name in TIME:
        out = {c: {"dimension": name, "code": c, "label": c, "label_ur": c} for c in axis.codes}
    else:
        entries = {c.code: c for c in codelists()[name].codes}
        out = {
            c: {"dimension": name, "code": c, "label": entries[c].en, "label_ur": entries[c].ur}
            for c in axis.codes
        }
    labels: dict[str | None, dict[str, Any]] = {None: total}
    labels.update(out)
    return labels


def _body(p: Prepared, released: privacy.Release, settings: Settings) -> dict[str, Any]:
    labels = [_labels(a) for a in p.axes]

    def cell(c: privacy.Cell) -> dict[str, Any]:
        return {
            "key": [names[k] for names, k in zip(labels, c.key, strict=True)],
            "count": c.count,
            "lower": c.lower,
            "upper": c.upper,
            "suppressed": c.suppressed,
            "reason": c.reason,
            "total": c.total,
        }

    return {
        "dataset": p.dataset.slug,
        "dataset_version": p.version.number,
        "group_by": [a.dimension for a in p.axes],
        "epsilon": str(p.plan.epsilon),
        "mechanism": privacy.MECHANISM,
        "noise_scale": p.plan.scale,
        "margin_of_error": p.plan.margin_of_error,
        "confidence": p.plan.confidence,
        "threshold": settings.suppression_threshold,
        "sensitive_threshold": settings.sensitive_threshold,
        "privacy_unit": "one complainant",
        "contribution_bound": p.dataset.max_cases_per_person,
        "rounding": p.canonical.form["options"].get("rounding"),
        "margins": bool(p.canonical.form["options"].get("margins")),
        "interpretation": released.interpretation,
        "cells": [cell(c) for c in released.cells()] + [cell(c) for c in released.totals()],
    }


@dataclass
class Outcome:
    release: Release
    cached: bool
    epsilon_charged: privacy.Epsilon
    remaining_micro: int | None  # the account's budget left after this request
    stored: bytes  # the released table as stored: JSON, UTF-8

    @property
    def body(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.stored)
        return parsed


def _cached(release: Release, budget: AccountBudget | None) -> Outcome:
    left = None if budget is None else budget.limit_micro - budget.spent_micro
    return Outcome(release, True, privacy.ZERO, left, extracts.body(release))


def count(
    session: Session,
    account: Account,
    query: CountQuery,
    settings: Settings,
    *,
    kind: str = "query",
) -> Outcome:
    """Answer a count query: a stored release, or a new one paid for in this transaction.

    ``kind="publication"``: staff publishing an extract; charged to the dataset's cap only,
    and recorded in the ledger as a publication by that staff account.
    """
    r = resolve(session, account, query, settings)
    budget = session.get(AccountBudget, (account.id, r.dataset.id)) if kind == "query" else None
    if kind == "query" and budget is None:
        raise Forbidden(
            "this account has no query budget on this dataset; partners download the "
            "extracts published to them from GET /v1/releases",
            dataset=r.dataset.slug,
        )
    hit = releases_repo.find(session, r.canonical.key)
    if hit is not None:
        audit.append(
            session,
            action=kind,
            outcome="cache_hit",
            account_id=account.id,
            dataset_id=r.dataset.id,
            version_id=r.version.id,
            canonical_key=r.canonical.key,
        )
        return _cached(hit, budget)
    p = prepare(session, account, query, settings, r)
    counts = count_cases(
        session,
        p.version.id,
        p.canonical.group_by,
        p.canonical.form["filters"],
        _period(p),
    )
    keys = _key_order(p.axes)
    truth = [counts.get(k, 0) for k in keys]
    policy = privacy.Policy(
        threshold=settings.suppression_threshold,
        sensitive_threshold=settings.sensitive_threshold,
        sensitive_query=p.sensitive_query,
        margins=bool(p.canonical.form["options"].get("margins")),
        rounding=p.canonical.form["options"].get("rounding"),
    )
    released = privacy.release(p.plan, truth, p.axes, policy)
    body = _body(p, released, settings)
    stored = releases_repo.store(
        session,
        Release(
            canonical_key=p.canonical.key,
            dataset_id=p.dataset.id,
            version_id=p.version.id,
            account_id=account.id,
            kind=kind,
            query=json.dumps(p.canonical.form),
            epsilon_micro=p.plan.epsilon.micro,
            body=json.dumps(body, ensure_ascii=False),
        ),
    )
    if stored is None:  # an identical query was released while we computed: use that one
        existing = releases_repo.find(session, p.canonical.key)
        assert existing is not None
        return _cached(existing, budget)
    try:
        spent = releases_repo.charge(
            session,
            account_id=account.id,
            dataset_id=p.dataset.id,
            release_id=stored.id,
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
    audit.append(
        session,
        action=kind,
        outcome="released",
        account_id=account.id,
        dataset_id=p.dataset.id,
        version_id=p.version.id,
        canonical_key=p.canonical.key,
        epsilon_micro=p.plan.epsilon.micro,
        detail={"release": stored.public_id},
    )
    left = None if budget is None or spent is None else budget.limit_micro - spent
    return Outcome(stored, False, p.plan.epsilon, left, extracts.body(stored))


def _period(p: Prepared) -> tuple[str, str] | None:
    start, end = p.canonical.form["period"]["from"], p.canonical.form["period"]["to"]
    if start is None and end is None:
        return None
    return (start or p.version.first_month, end or p.version.last_month)


def _key_order(axes: list[privacy.Axis]) -> list[tuple[str, ...]]:
    keys: list[tuple[str, ...]] = [()]
    for axis in axes:
        keys = [(*k, c) for k in keys for c in axis.codes]
    return keys


def record_refusal(
    session: Session, account: Account | None, query: CountQuery, error: Exception
) -> None:
    """Audit a refused query in its own transaction (the refused one was rolled back)."""
    audit.append(
        session,
        action="query",
        outcome=getattr(error, "code", "refused")[:48],
        account_id=account.id if account else None,
        detail={"dataset": query.dataset, "group_by": query.group_by},
    )
