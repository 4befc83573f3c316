"""The annual report as an extract: its figures as JSON or CSV (English and Urdu labels),
with the metadata every download carries (JSON fields, ``X-Amaan-*`` headers).

Who may read it is who may read its summary's release (``api.publications.readable``):
staff, researchers granted the dataset, and partners it was published to. Reading never
spends: the figures are post-processing of the stored summary. Everything that can refuse
(the release, its template, the confidence) is decided before the summary is rebuilt, from
the release's public form; the metadata is the summary's design and charge, never a count.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

import privacy
from api import extracts, publications, releases
from api.errors import InvalidQuery
from api.extract_table import Value
from api.summaries import report, stored
from schema.access import Account, Release
from schema.repositories import audit
from schema.repositories import datasets as datasets_repo
from schema.repositories import summaries as summaries_repo

TEMPLATE = "annual-report"
COLUMNS = ["figure", "label", "label_ur", "unit", "value", "lower", "upper"]
MAX_CONFIDENCE = 0.999999999
PLACES = {"count": 0, "countries": 0, "share": 4, "change": 4}


@dataclass
class Report:
    release: Release
    meta: dict[str, Any]
    figures: list[report.Figure] = field(default_factory=list)


def _outward(value: float | None, places: int, up: bool) -> float | None:
    """An interval bound rounded away from the value (so it still holds what it held)."""
    if value is None:
        return None
    step = 10.0**places
    rounded = (math.ceil if up else math.floor)(round(value * step, 9)) / step
    return float(int(rounded)) if places == 0 else rounded


def _shown(f: report.Figure) -> report.Figure:
    places = 2 if f.name == "monthly_average" else PLACES[f.unit]
    value = None if f.value is None else round(f.value, places)
    low, high = _outward(f.lower, places, False), _outward(f.upper, places, True)
    return report.Figure(f.name, f.label, f.label_ur, f.unit, value, low, high)


def _utc(moment: datetime) -> datetime:
    """SQLite hands back the stored UTC time without its zone; PostgreSQL with it."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


_DECIMAL = re.compile(r"0\.[0-9]{1,17}", re.ASCII)  # any float in (0.5, 1) as Python writes it


def confidence(value: object) -> float:
    """The confidence asked (default: the simultaneous level of the report's figures)."""
    if value is None:
        return report.SIMULTANEOUS
    if isinstance(value, str):  # a query string: ASCII digits in the one declared form
        if not _DECIMAL.fullmatch(value):
            raise InvalidQuery(
                f"confidence must be written as a decimal such as 0.95, not {value[:20]!r}",
                field="confidence",
                valid=f"greater than 0.5 and at most {MAX_CONFIDENCE}",
            )
        value = float(value)
    try:
        found = privacy.parse_confidence(value)
    except privacy.PrivacyError as exc:
        raise releases.refused(exc) from None
    if found > MAX_CONFIDENCE:  # beyond it the exact noise law's search gives out
        raise InvalidQuery(
            f"confidence of a report must be greater than 0.5 and at most {MAX_CONFIDENCE}",
            field="confidence",
            valid=f"greater than 0.5 and at most {MAX_CONFIDENCE}",
        )
    return found


def form_of(release: Release) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(release.query)
    return found


def check(session: Session, account: Account, public_id: str) -> Release:
    """A release the account may read that holds an annual report (404 for one it may not
    read; refused naming ``release_id`` for one that holds no report)."""
    release = publications.readable(session, account, public_id, summary=True)
    form = form_of(release)
    if release.kind != "summary" or form.get("summary") != TEMPLATE or form.get("year") is None:
        raise InvalidQuery(
            f"release {public_id[:40]} is not a summary of template {TEMPLATE!r} with a year",
            field="release_id",
            valid=[TEMPLATE],
        )
    return release


def of_release(session: Session, account: Account, public_id: str, conf: float) -> Report:
    """The annual report of a summary release the account may read; refused, naming the
    field, when the release is not an annual-report summary."""
    release = check(session, account, public_id)
    form = form_of(release)
    row = summaries_repo.of_release(session, release.id)
    assert row is not None and row.year is not None  # a summary release that did not fail
    dataset = datasets_repo.by_id(session, release.dataset_id)
    year = row.year
    meta = {
        "release_id": release.public_id,
        "dataset": form["dataset"],
        "dataset_title": dataset.title,
        "dataset_version": form["version"],
        "template": TEMPLATE,
        "year": year,
        "first_month": row.first_month,
        "last_month": row.last_month,
        "epsilon": str(privacy.Epsilon(form["epsilon_micro"])),
        "mechanism": privacy.MECHANISM,
        "privacy_unit": "one complainant",
        "contribution_bound": dataset.max_cases_per_person,
        "confidence": conf,
        "simultaneous": conf == report.SIMULTANEOUS,
        "released_at": _utc(release.created_at).isoformat(),
        "interpretation": (
            f"The helpline's {year} report from summary {release.public_id}, at no further "
            "charge: every figure is post-processing of its noisy, reconciled counts, and "
            "consistent with every other. Shares and changes are fractions (0.51 is +51%). "
            f"With {conf:.4%} confidence "
            + (
                "all figures at once (Bonferroni) lie within their bounds before noise."
                if conf == report.SIMULTANEOUS
                else "each figure before noise lies within its bounds."
            )
            + " An empty value: months the summary does not cover; an empty bound: unbounded."
        ),
    }
    summary = stored.rebuilt(row, release.public_id)
    shown = [_shown(f) for f in report.figures(summary, year, conf)]
    return Report(release, meta, shown)


def downloaded(session: Session, account: Account, r: Report, what: str) -> None:
    """A download of the report, audited as a release's download is."""
    audit.append(
        session,
        action="download",
        outcome=what,
        account_id=account.id,
        dataset_id=r.release.dataset_id,
        version_id=r.release.version_id,
        canonical_key=r.release.canonical_key,
        detail={"release": r.release.public_id},
    )


def as_json(r: Report) -> dict[str, Any]:
    """The report as REST serves it: ε as a JSON number, as everywhere in REST."""
    epsilon = privacy.Epsilon.parse(r.meta["epsilon"]).as_float()
    return r.meta | {"epsilon": epsilon, "figures": [vars(f) for f in r.figures]}


def _number(v: float | None) -> int | str | None:
    return None if v is None else int(v) if float(v).is_integer() else repr(v)


def as_csv(r: Report, bom: bool) -> bytes:
    rows: list[list[Value]] = [
        [f.name, f.label, f.label_ur, f.unit, _number(f.value), _number(f.lower), _number(f.upper)]
        for f in r.figures
    ]
    return ((extracts.BOM if bom else "") + extracts.csv_text(COLUMNS, rows)).encode("utf-8")


def headers(r: Report) -> dict[str, str]:
    m = r.meta
    values = {
        "X-Amaan-Release-Id": m["release_id"],
        "X-Amaan-Dataset": m["dataset"],
        "X-Amaan-Dataset-Version": str(m["dataset_version"]),
        "X-Amaan-Template": TEMPLATE,
        "X-Amaan-Year": str(m["year"]),
        "X-Amaan-Epsilon": m["epsilon"],
        "X-Amaan-Mechanism": m["mechanism"],
        "X-Amaan-Privacy-Unit": m["privacy_unit"],
        "X-Amaan-Contribution-Bound": str(m["contribution_bound"]),
        "X-Amaan-Confidence": repr(m["confidence"]),
        "X-Amaan-Simultaneous": "true" if m["simultaneous"] else "false",
        "X-Amaan-Released-At": m["released_at"],
    }
    name = extracts.file_name(m["release_id"], "csv", "report")
    ascii_only = {
        k: v.replace("ε", "epsilon").encode("ascii", "ignore").decode().strip()
        for k, v in values.items()
    }
    return ascii_only | {"Content-Disposition": f'attachment; filename="{name}"'}
