"""Bounding each person's cases and writing the batch as a new dataset version.

The new version holds every case loaded so far: the previous version's facts plus this
batch's kept cases, merged by packed value. Its coverage is the declared one (``etl.coverage``),
never computed from the facts.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from etl.bound import Buckets, bounded
from etl.coverage import Coverage
from etl.report import LoadReport
from schema.codelists import codelists
from schema.facts import FIRST_YEAR, MONTH_BITS
from schema.models import Dataset, DatasetVersion, LoadBatch
from schema.repositories import datasets as datasets_repo
from schema.repositories import loads

# How batches key people and cases (``LoadBatch.pipeline_version``): 2 = contact keys
# normalised to E.164 and case-folded e-mails, case references recorded.
PIPELINE_VERSION = 2


def fold_into_new_version(
    conn: Connection,
    session: Session,
    dataset: Dataset,
    buckets: Buckets,
    report: LoadReport,
    path: Path,
    declared: Coverage,
    covers: Coverage,
) -> None:
    """``declared`` is the batch's period, ``covers`` the new version's (with earlier ones)."""
    by_year: Counter[str] = Counter()
    combos: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    counts: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    for result in bounded(
        buckets,
        lambda lo, hi: loads.prior_contributions(conn, dataset.id, lo, hi),
        dataset.max_cases_per_person,
    ):
        combos.append(result.combos)
        counts.append(result.counts)
        loads.add_people(conn, dataset.id, result.new_pids, result.new_cases)
        loads.update_people(conn, dataset.id, result.seen_pids, result.seen_cases)
        report.cases_cut_by_person_bound += result.cut
        years = FIRST_YEAR + (result.combos & ((1 << MONTH_BITS) - 1)) // 12
        for year, n in zip(years.tolist(), result.counts.tolist(), strict=True):
            by_year[str(year)] += n
    previous = datasets_repo.latest_version(session, dataset.id)
    version = DatasetVersion(
        dataset_id=dataset.id,
        number=(previous.number + 1) if previous else 1,
        codelist_version=codelists().version,
        first_month=covers.first,
        last_month=covers.last,
    )
    session.add(version)
    session.flush()
    if previous is not None:
        old_combos, old_counts = loads.previous_facts(conn, previous.id)
        combos.append(old_combos)
        counts.append(old_counts)
    merged, inverse = np.unique(np.concatenate(combos), return_inverse=True)
    totals = np.bincount(inverse, weights=np.concatenate(counts)).astype(np.int64)
    loads.add_version_facts(conn, version.id, merged, totals)
    report.cases_loaded_by_year = dict(sorted(by_year.items()))
    report.cases_loaded = sum(by_year.values())
    report.version = version.number
    session.add(
        LoadBatch(
            dataset_id=dataset.id,
            version_id=version.id,
            file_sha256=report.file_sha256,
            file_name=path.name[:255],
            rows_read=report.rows_read,
            rows_rejected=report.rows_rejected,
            cases_cut_by_person_bound=report.cases_cut_by_person_bound,
            values_cut_by_multi_value_bound=report.values_cut_by_multi_value_bound,
            cases_loaded=report.cases_loaded,
            consent_refused=report.consent_refused,
            duplicates_skipped=report.duplicates_skipped,
            covers_first=declared.first,
            covers_last=declared.last,
            pipeline_version=PIPELINE_VERSION,
        )
    )
    session.flush()
