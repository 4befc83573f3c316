"""The parts of the release pipeline: resolving and checking a query, and computing a release.

Everything that can refuse a query is here, before any case data is read: the dataset and its
grant, strict parsing, dimensions and codes, the period against the version's declared
coverage, the plan (ε, cells, sensitivity). ``compute`` is what runs after the read; it is
total (nothing in it depends on the counts being of any particular kind). ``api.answers``
strings these together, stores, charges and audits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

import privacy
from api.errors import InvalidQuery, NotFound, PrivacyRefused
from schema.access import Account, QueryBudget
from schema.codelists import codelists, time_codes
from schema.models import Dataset, DatasetVersion
from schema.repositories import catalogue as catalogue_repo
from schema.repositories.warehouse import count_grid
from schema.settings import Settings
from schema.vocabulary import NAMES as DIMENSIONS
from schema.vocabulary import TIME

_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}", re.ASCII)


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
    statistic: dict[str, Any] | None = None  # api.statistics checks it; never in the cache key
    # "summary": only from the version's summary, free; "direct": a charged measurement;
    # None: from the summary when it covers the query, else direct (api.summaries.derived).
    source: str | None = None

    @property
    def options(self) -> dict[str, Any]:
        """Post-processing choices that change the released table, and so its cache key."""
        chosen: dict[str, Any] = {}
        if self.rounding is not None and self.rounding > 1:
            chosen["rounding"] = self.rounding
        if self.margins:
            chosen["margins"] = True
        return chosen


def refused(exc: privacy.PrivacyError) -> PrivacyRefused:
    """The privacy engine's refusal in the API's terms (the one place that translates it)."""
    err = PrivacyRefused(str(exc), **exc.details)
    err.code = exc.code
    return err


@dataclass
class Resolved:
    """A query's dataset, version and canonical form (its ε may be solved later)."""

    dataset: Dataset
    version: DatasetVersion
    canonical: privacy.CanonicalQuery
    epsilon: privacy.Epsilon | None
    margin_of_error: float | None
    confidence: float
    budget: QueryBudget | None = None  # the account's query budget on the dataset


def dataset_for(
    session: Session, account: Account, slug: str, number: int | None
) -> tuple[Dataset, DatasetVersion]:
    """The dataset, if granted to the account (staff read every dataset), and its version
    ``number`` (the newest when None); one round trip."""
    dataset, version, _ = dataset_and_budget(session, account, slug, number)
    return dataset, version


def dataset_and_budget(
    session: Session, account: Account, slug: str, number: int | None, cached: bool = False
) -> tuple[Dataset, DatasetVersion, QueryBudget | None]:
    """``dataset_for``, and the account's query budget on the dataset, in the same round
    trip; ``cached``: the dataset, grant and version from the worker's cache when it holds
    them (``schema.repositories.catalogue.dataset_version``)."""
    # ASCII before lower(): "\u212a".lower() is "k" (the Kelvin sign).
    wanted = slug.strip(" \t").lower() if slug.isascii() else ""
    if not _SLUG.fullmatch(wanted):  # never sent to the database (a NUL fails on PostgreSQL)
        raise NotFound(f"no dataset {slug[:64]!r} is available to this account", field="dataset")
    found = catalogue_repo.dataset_version(session, account.id, wanted, number, cached)
    if found is None or not (found[1] or account.role == "admin"):
        raise NotFound(f"no dataset {slug[:64]!r} is available to this account", field="dataset")
    dataset, _, version, budget = found
    if version is None:
        raise NotFound(f"dataset {dataset.slug!r} has no version {number}")
    return dataset, version, budget


@cache
def _labels() -> dict[str, dict[str, str]]:
    """Each code-listed dimension's English labels, as filters may name them, and their codes."""
    out: dict[str, dict[str, str]] = {}
    for name, dimension in codelists().dimensions.items():
        folded = ((privacy.fold_label(c.en), c.code) for c in dimension.codes)
        out[name] = {label: code for label, code in folded if label is not None}
    return out


def resolve(session: Session, account: Account, query: CountQuery, settings: Settings) -> Resolved:
    dataset, version, budget = dataset_and_budget(
        session, account, query.dataset, query.version, cached=True
    )
    try:
        if (query.epsilon is None) == (query.margin_of_error is None):
            raise privacy.MalformedQuery(
                "give exactly one of epsilon and margin_of_error", field="epsilon"
            )
        epsilon = privacy.Epsilon.parse(query.epsilon) if query.epsilon is not None else None
        margin = None
        if query.margin_of_error is not None:
            margin = privacy.parse_margin(query.margin_of_error)
        confidence = privacy.parse_confidence(
            settings.confidence if query.confidence is None else query.confidence
        )
        canonical = privacy.canonicalise(
            dataset=dataset.slug,
            version=version.number,
            group_by=query.group_by,
            filters=query.filters,
            period=query.period,
            epsilon=epsilon,
            options=query.options,
            labels=_labels(),
        )
    except privacy.PrivacyError as exc:
        raise refused(exc) from None
    return Resolved(dataset, version, canonical, epsilon, margin, confidence, budget)


@dataclass
class Prepared:
    """A query checked against the policy, with its public key set and its plan."""

    resolved: Resolved
    axes: list[privacy.Axis]
    sensitive_query: bool
    plan: privacy.Plan  # at the requested confidence
    policy: privacy.Policy
    canonical: privacy.CanonicalQuery  # keyed by the plan's ε

    @property
    def dataset(self) -> Dataset:
        return self.resolved.dataset

    @property
    def version(self) -> DatasetVersion:
        return self.resolved.version

    @property
    def period(self) -> tuple[str, str] | None:
        start, end = self.canonical.period
        if start is None and end is None:
            return None
        return (start or self.version.first_month, end or self.version.last_month)


def _codes(name: str, period: tuple[str, str]) -> list[str]:
    if name in TIME:
        return time_codes(name, *period)
    return codelists()[name].code_list()


def _check_dimensions(names: list[str], field: str) -> None:
    unknown = [n for n in names if n not in DIMENSIONS]
    if unknown:
        raise InvalidQuery(
            f"{field}: unknown dimension(s): {', '.join(unknown)}",
            field=field,
            valid=list(DIMENSIONS),
        )


def _period(r: Resolved) -> tuple[str, str]:
    """The query's period, which must lie within the version's declared coverage."""
    first, last = r.version.first_month, r.version.last_month
    start, end = r.canonical.period
    period = (start or first, end or last)
    if not first <= period[0] <= period[1] <= last:
        raise InvalidQuery(
            f"the period must lie within {first} to {last}, the months this version covers",
            field="period",
            first_month=first,
            last_month=last,
        )
    return period


def prepare(r: Resolved, settings: Settings) -> Prepared:
    """Check a query against the policy and plan it, without touching any case data."""
    canonical = r.canonical
    group_by, filters = canonical.group_by, canonical.filters
    _check_dimensions(group_by, "group_by")
    _check_dimensions(list(filters), "filters.dimension")
    if len(group_by) > settings.max_group_by:
        raise InvalidQuery(
            f"group_by: at most {settings.max_group_by} dimensions", field="group_by"
        )
    period = _period(r)
    for name, values in filters.items():
        valid = _codes(name, period)
        bad = sorted(set(values) - set(valid))
        if bad:
            raise InvalidQuery(
                f"unknown {name} code(s): {', '.join(bad[:20])}",
                field="filters.values",
                dimension=name,
                valid=valid,
            )
    sensitive = settings.sensitive_values
    axes = []
    for name in group_by:
        codes = _codes(name, period)
        if name in filters:
            codes = [c for c in codes if c in set(filters[name])]
        axes.append(privacy.Axis(name, tuple(codes), frozenset(sensitive.get(name, []))))
    dataset = r.dataset
    sensitivity = privacy.l1_sensitivity(
        dataset.max_cases_per_person,
        {"vulnerable_group": dataset.max_vulnerable_groups, "referral": dataset.max_referrals},
        group_by,
    )
    cells = 1
    for axis in axes:
        cells *= len(axis.codes)
    plan = _plan(r, sensitivity, cells, settings)
    options = canonical.form["options"]
    policy = privacy.Policy(
        threshold=settings.suppression_threshold,
        sensitive_threshold=settings.sensitive_threshold,
        sensitive_query=any(v in sensitive.get(n, []) for n, vs in filters.items() for v in vs),
        margins=bool(options.get("margins")),
        rounding=options.get("rounding"),
    )
    return Prepared(
        r, axes, policy.sensitive_query, plan, policy, canonical.with_epsilon(plan.epsilon)
    )


def _plan(r: Resolved, sensitivity: int, cells: int, settings: Settings) -> privacy.Plan:
    """The plan at the requested confidence. A margin of error is turned into the ε it needs
    and planned from that ε, so that equal ε means one release whatever was asked."""
    epsilon = None if r.epsilon is None else r.epsilon.micro
    try:
        return _planned(
            sensitivity,
            cells,
            r.dataset.max_per_query_micro,
            settings.max_cells,
            r.confidence,
            epsilon,
            r.margin_of_error,
        )
    except privacy.PrivacyError as exc:
        raise refused(exc) from None


@lru_cache(maxsize=256)  # a plan is immutable, and the same inputs give the same plan
def _planned(
    sensitivity: int,
    cells: int,
    max_micro: int,
    max_cells: int,
    confidence: float,
    epsilon_micro: int | None,
    margin: float | None,
) -> privacy.Plan:
    common: dict[str, Any] = {
        "sensitivity": sensitivity,
        "cells": cells,
        "max_epsilon": privacy.Epsilon(max_micro),
        "max_cells": max_cells,
        "confidence": confidence,
    }
    if epsilon_micro is None:
        epsilon = privacy.plan_release(margin_of_error=margin, **common).epsilon
    else:
        epsilon = privacy.Epsilon(epsilon_micro)
    return privacy.plan_release(epsilon=epsilon, **common)


def compute(session: Session, p: Prepared) -> privacy.Release:
    """Read the case data and release it: the only place true counts exist, and total."""
    return release(p, read(session, p))


def read(session: Session, p: Prepared) -> np.ndarray:
    """The true counts of the public key set, in its order. Private: only ``release`` may see
    them. Keys come from the public key set; the warehouse's answer only fills them (a key it
    does not hold is 0, a key outside the set is ignored), so no shape depends on the data."""
    axes = [(a.dimension, a.codes) for a in p.axes]  # the canonical group_by, in order
    return count_grid(session, p.version.id, axes, p.canonical.filters, p.period)


def release(p: Prepared, truth: np.ndarray) -> privacy.Release:
    return privacy.release(p.plan, truth, p.axes, p.policy)


def key_order(axes: list[privacy.Axis]) -> tuple[tuple[str, ...], ...]:
    """The public key set, row-major over the axes (the same axes give the same tuple: kept
    per worker, as the code lists it comes from are)."""
    return _key_order(tuple(axes))


@lru_cache(maxsize=32)  # at most 10,000 keys each (settings.max_cells)
def _key_order(axes: tuple[privacy.Axis, ...]) -> tuple[tuple[str, ...], ...]:
    keys: list[tuple[str, ...]] = [()]
    for axis in axes:
        keys = [(*k, c) for k in keys for c in axis.codes]
    return tuple(keys)
