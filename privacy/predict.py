"""Know before you spend: how much of a table a summary predicts would be suppressed.

Suppression is decided on released values only, so a published summary's estimates predict
it for free: a cell is predicted suppressed when its estimate is under the threshold (the
stricter one when the cell or the question touches a sensitive value). Only the first,
small-cell rule is predicted; complementary suppression depends on which margins are shown.
When most of a table would be blank, coarser forms of the same question (quarter or year
for month, a roll-up such as complaint group for complaint type) are answered from the same
summary and proposed with their own prediction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import product

import numpy as np

from privacy.derive import Summary
from privacy.errors import MalformedQuery
from privacy.questions import Answer, Question
from privacy.release import Policy

COARSER_TIME = {"month": ("quarter", "year"), "quarter": ("year",)}


@dataclass(frozen=True)
class Prediction:
    question: Question
    cells: int
    suppressed: int

    @property
    def share(self) -> float:
        return self.suppressed / self.cells if self.cells else 0.0


def predict(
    answer: Answer,
    question: Question,
    policy: Policy,
    sensitive: Mapping[str, frozenset[str]],
) -> Prediction:
    """Cells of ``answer`` whose estimate falls under its suppression threshold."""
    touches = any(set(v) & sensitive.get(d, frozenset()) for d, v in question.filters.items())
    flags = np.array(
        [
            touches
            or any(
                code in sensitive.get(d, frozenset())
                for d, code in zip(answer.group_by, key, strict=True)
            )
            for key in answer.keys
        ],
        dtype=bool,
    )
    limit = np.where(flags, policy.sensitive_threshold, policy.threshold)
    return Prediction(question, len(answer.keys), int(np.sum(answer.shown < limit)))


def coarser(
    summary: Summary,
    question: Question,
    policy: Policy,
    sensitive: Mapping[str, frozenset[str]],
    rollups: Mapping[str, Sequence[str]],
    most: int = 5,
) -> list[Prediction]:
    """Coarser questions the summary covers, least suppressed first (then most cells).

    ``rollups`` names, per dimension, the coarser dimensions it may be replaced by (public:
    e.g. complaint_type -> complaint_group); time goes month -> quarter -> year.
    """
    options = []
    for d in question.group_by:
        options.append((d, *COARSER_TIME.get(d, ()), *rollups.get(d, ())))
    found = []
    for choice in product(*options):
        if choice == tuple(question.group_by):
            continue
        candidate = replace(question, group_by=tuple(choice))
        try:
            answer = summary.answer(candidate)
        except MalformedQuery:
            continue  # not covered by one measured table
        found.append(predict(answer, candidate, policy, sensitive))
    found.sort(key=lambda p: (p.share, -p.cells))
    return found[:most]
