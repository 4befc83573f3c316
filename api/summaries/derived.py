"""Free answers from the summaries of a dataset version (``privacy.derive.Summary``).

A count query is *covered* when a published summary of the version (the newest that can,
of its newest few) has the query's grouped and filtered dimensions within one of its
measured tables over months it covers (roll-ups taken to their base). The decision reads
the stored design and declared months only: the question is checked against them
(``Summary.answer`` refuses an uncovered question before it sums a cell), never the data.
Also not covered: a filter on time (the period restricts time), and a multi-valued
dimension filtered on several values without being grouped (a direct query counts cases
holding any of them; a summary's table counts case-values).

A covered query is answered from the summary: ``derived_from`` names it, nothing is charged,
intervals come from the reconciliation's exact noise law at the requested confidence, and
suppression is the usual policy (``privacy.decide``: the stricter threshold for sensitive
values) applied to the shown estimates. The body has the keys of a direct release. A share,
change or rate asked of it (``table``) is computed from its cells' exact noise weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

import privacy
from api import tables
from api.releases import Prepared, key_order
from api.summaries import stored
from privacy import statistics
from privacy.derive import Summary
from privacy.predict import coarser, predict
from privacy.questions import TIME, Answer, Question
from privacy.suppression import REASONS
from schema.codelists import months_between
from schema.repositories import summaries as summaries_repo
from schema.vocabulary import MULTI_VALUED


@dataclass
class Covered:
    summary: Summary
    public_id: str  # the summary's release
    question: Question


def question(p: Prepared) -> Question | None:
    """The query as a question to a summary; None when no summary can answer it as asked."""
    filters = p.canonical.filters
    if any(d in TIME for d in filters):
        return None
    group_by = tuple(a.dimension for a in p.axes)
    for d, values in filters.items():
        if d in MULTI_VALUED and d not in group_by and len(values) > 1:
            return None
    first, last = p.period or (p.version.first_month, p.version.last_month)
    months = tuple(months_between(first, last))
    return Question(group_by, {d: tuple(v) for d, v in filters.items()}, months)


def covered(session: Session, p: Prepared) -> Covered | None:
    """The newest summary of the version that covers the query, and the question. The
    summaries first: a version without any (the usual case, on every cache hit) needs no
    question built (its months listed)."""
    summaries = summaries_repo.of_version(session, p.version.id)
    q = None if not summaries else question(p)
    if q is None:
        return None
    for row, public_id in summaries:
        summary = stored.rebuilt(row, public_id)
        try:
            answer = summary.answer(q)
        except privacy.PrivacyError:  # not within one measured table, or months not covered
            continue
        if set(answer.keys) == set(key_order(p.axes)):  # the public key set
            return Covered(summary, public_id, q)
    return None


def answer(c: Covered, confidence: float) -> Answer:
    return c.summary.answer(c.question, confidence)


def table(c: Covered, p: Prepared, hidden: list[bool]) -> statistics.Table:
    """The derived table for a statistic (row-major, as the body): each cell the exact
    linear combination of the summary's noises, ``hidden`` the cells the body suppressed."""
    linears = c.summary.figures(c.question)
    cells = [linears[k] for k in key_order(p.axes)]
    return statistics.cell_table(p.axes, cells, hidden, p.policy)


def margin(a: Answer) -> int:
    """The largest half-width of the answer's intervals, from the noise law alone (public:
    the same whatever the data, as a direct release's margin of error is)."""
    halves = a.half_width if a.half_width is not None and len(a.half_width) else np.zeros(1)
    return int(np.ceil(np.max(halves)))


def body(p: Prepared, c: Covered, a: Answer) -> dict[str, Any]:
    """The derived table in a direct release's shape (row-shaped cells, the same keys), with
    ``derived_from``. Post-processing of the summary's noisy slices: total on any values."""
    order = key_order(p.axes)
    at = {k: i for i, k in enumerate(a.keys)}
    index = [at[k] for k in order]
    shown = a.shown[index]
    lower, upper = a.lower[index], a.upper[index]
    _, counts, reasons = privacy.decide(shown, p.axes, p.policy)
    labels = [tables.labels(ax) for ax in p.axes]
    cells = []
    for i, key in enumerate(order):
        hidden = bool(reasons[i])
        cells.append(
            {
                "key": [names[k] for names, k in zip(labels, key, strict=True)],
                "count": None if hidden else int(counts[i]),
                "lower": None if hidden else int(lower[i]),
                "upper": None if hidden else int(upper[i]),
                "suppressed": hidden,
                "reason": REASONS.get(int(reasons[i])) if hidden else None,
                "total": False,
            }
        )
    return {
        "dataset": p.dataset.slug,
        "dataset_version": p.version.number,
        "group_by": [ax.dimension for ax in p.axes],
        "epsilon": "0",
        "mechanism": privacy.MECHANISM,
        "noise_scale": max(c.summary.scales.values()),
        "margin_of_error": margin(a),
        "confidence": a.confidence,
        "threshold": p.policy.threshold,
        "sensitive_threshold": p.policy.sensitive_threshold,
        "privacy_unit": "one complainant",
        "contribution_bound": p.dataset.max_cases_per_person,
        "rounding": None,
        "margins": False,
        "interpretation": (
            f"Derived from summary {c.public_id} at no charge: counts are its reconciled "
            f"estimates, consistent with every other answer of it; with {a.confidence:.0%} "
            "confidence each count before noise lies between its lower and upper bound."
        ),
        "derived_from": c.public_id,
        "cells": cells,
    }


@dataclass
class Proposal:
    group_by: list[str]
    cells: int
    suppressed: int


@dataclass
class Foresight:
    """What ``estimate`` says of the summary: whether it covers the query, its margin of
    error, and the cells its estimates predict suppressed (with coarser tables when most
    would be). Nothing is charged: post-processing of the published summary."""

    covered: bool
    derived_from: str | None = None
    margin_of_error: int | None = None
    predicted_suppressed: int | None = None
    coarser: list[Proposal] | None = None
    note: str = "no published summary covers this query: suppression cannot be predicted"


COARSER = {"complaint_type": ["complaint_group"], "city": ["fia_city"]}


def foresee(session: Session, p: Prepared, sensitive: dict[str, list[str]]) -> Foresight:
    c = covered(session, p)
    if c is None:
        return Foresight(False)
    a = answer(c, p.resolved.confidence)
    marks = {d: frozenset(v) for d, v in sensitive.items()}
    found = predict(a, c.question, p.policy, marks)
    proposals = None
    if found.share > 0.5:
        proposals = [
            Proposal(list(x.question.group_by), x.cells, x.suppressed)
            for x in coarser(c.summary, c.question, p.policy, marks, COARSER)
        ]
    return Foresight(
        True,
        c.public_id,
        margin(a),
        found.suppressed,
        proposals,
        "answered from the summary at no charge; suppression predicted from its estimates",
    )
