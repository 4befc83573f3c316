"""Publishing a summary of a dataset version: checked, claimed, charged, read, measured, stored.

Everything that can refuse runs in ``prepare``, before any case data is read: staff role,
dataset, template, year (within the declared coverage), ε (within the dataset's cap), the
cells bound. ``publish`` then claims the release (kind "summary") and charges the dataset's
cap in one savepoint, reads the true slices (one GROUP BY per table, in
``schema.repositories.warehouse``), measures them with OpenDP (``privacy.summary``) and
stores the noisy slices with what rebuilds the summary, all in the caller's transaction.

A later version extends the series of its template: when the newest summary of the same
template has the same design and noise scales, and covers months from the same first month,
its slices are copied as they were (months already summarised are never measured again,
even if a later load revised them) and only the new slices (new months, years just
completed) are measured, charged by ``privacy.summary.extension_charge``: a monthly load at
the same ε spends nothing on the history. Any other ask starts a new series, charged whole.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy.orm import Session

import privacy
from api import releases
from api.errors import BudgetExhausted, Forbidden, InvalidQuery
from api.summaries import stored, templates
from privacy.summary import Design, Slice, SummaryPlan, extension_charge, plan_summary, slices
from schema.access import Account, StoredSummary
from schema.codelists import months_between
from schema.models import Dataset, DatasetVersion
from schema.repositories import summaries as summaries_repo
from schema.settings import Settings


@dataclass(frozen=True)
class Summarise:
    dataset: str
    template: str
    epsilon: float | str
    year: int | None = None


@dataclass
class Planned:
    """A summary checked and planned; nothing read, nothing spent."""

    dataset: Dataset
    version: DatasetVersion
    template: str
    year: int | None
    months: list[str]
    design: Design
    design_json: str
    plan: SummaryPlan
    charge: privacy.Epsilon
    new: list[Slice]
    copied: dict[Slice, np.ndarray] = field(default_factory=dict)
    extends: StoredSummary | None = None
    extends_release: str | None = None  # the public id of the summary this one extends

    @property
    def form(self) -> dict[str, object]:
        return {
            "summary": self.template,
            "dataset": self.dataset.slug,
            "version": self.version.number,
            "year": self.year,
            "epsilon_micro": self.plan.epsilon.micro,
        }

    @property
    def key(self) -> str:
        text = json.dumps(self.form, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def _months(version: DatasetVersion, year: int | None) -> list[str]:
    first, last = version.first_month, version.last_month
    months = months_between(first, last)
    if year is None:
        return months
    if not (isinstance(year, int) and f"{year:04d}-01" >= first and f"{year:04d}-12" <= last):
        complete = sorted(
            {m[:4] for m in months if f"{m[:4]}-01" >= first and f"{m[:4]}-12" <= last}
        )
        raise InvalidQuery(
            f"year must be a complete year within {first} to {last}, the months this "
            "version covers",
            field="year",
            valid=complete,
        )
    return [m for m in months if m <= f"{year:04d}-12"]


def prepare(session: Session, account: Account, ask: Summarise, settings: Settings) -> Planned:
    if account.role != "admin":
        raise Forbidden("publishing a summary is for helpline staff (role admin)")
    template = templates.check(ask.template)
    dataset, version = releases.dataset_for(session, account, ask.dataset, None)
    months = _months(version, ask.year)
    sensitive = {k: frozenset(v) for k, v in settings.sensitive_values.items()}
    values = {"vulnerable_group": dataset.max_vulnerable_groups, "referral": dataset.max_referrals}
    try:
        epsilon = privacy.Epsilon.parse(ask.epsilon)
    except privacy.PrivacyError as exc:
        raise releases.refused(privacy.InvalidEpsilon(str(exc), field="epsilon")) from None
    try:
        design = templates.design(template, dataset.max_cases_per_person, values, sensitive)
        plan = plan_summary(design, epsilon, templates.weights(template, design))
    except privacy.PrivacyError as exc:
        raise releases.refused(exc) from None
    design_json = stored.design_json(design, templates.rollups())
    p = Planned(
        dataset,
        version,
        template,
        ask.year,
        months,
        design,
        design_json,
        plan,
        plan.epsilon,
        slices(design, months),
    )
    _extend(session, p)
    cells = sum(design.spec(name).cells for name, _ in p.new)
    if cells > templates.MAX_CELLS:
        raise InvalidQuery(
            f"this summary would measure {cells} cells; at most {templates.MAX_CELLS}",
            field="year",
        )
    left = dataset.cap_micro - dataset.spent_micro
    if p.charge.micro > left:
        rest = privacy.Epsilon(max(left, 0))
        err = BudgetExhausted(
            f"this summary needs ε {p.charge}; the dataset cap has ε {rest} left",
            limit="dataset_cap",
            remaining=str(rest),
            asked=str(p.charge),
        )
        err.code = "dataset_cap_exceeded"
        raise err
    return p


def _extend(session: Session, p: Planned) -> None:
    """Continue the template's series when it can be: same design, scales and first month."""
    found = summaries_repo.latest_of_series(session, p.dataset.id, p.template)
    if found is None:
        return
    last, public_id = found
    if last.design != p.design_json or last.first_month != p.months[0]:
        return
    scales = {k: p.plan.scale(k) for k in p.plan.plans}
    if json.loads(last.scales) != scales:
        return
    before = stored.slices_of(last.slices)
    wanted = set(p.new)
    p.copied = {s: v for s, v in before.items() if s in wanted}
    p.new = [s for s in p.new if s not in p.copied]
    charged = {k: privacy.Epsilon(int(v)) for k, v in json.loads(last.charged).items()}
    p.charge = extension_charge(p.plan, charged)
    p.extends, p.extends_release = last, public_id
