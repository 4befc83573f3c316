"""``amaan etl load``: stream a raw export into a new dataset version, in one transaction."""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from etl import parallel
from etl.bound import Buckets, bounded, temporary_directory
from etl.codes import build_codebook
from etl.errors import LoadRefused
from etl.parallel import RangeJob, worker_pool
from etl.ranges import split
from etl.reader import ExportReader
from etl.report import LoadReport
from etl.transform import Limits
from schema.codelists import codelists
from schema.facts import FIRST_YEAR, MONTH_BITS
from schema.models import Dataset, DatasetVersion, LoadBatch
from schema.repositories import datasets as datasets_repo
from schema.repositories import loads

Progress = Callable[[int, int, int], None]  # bytes read, file size, rows read
AVERAGE_ROW_BYTES = 150  # a low guess, so that buckets err on the small side


@dataclass(frozen=True)
class LoadOptions:
    dataset: str
    pseudonym_key: bytes
    max_reject_rate: float = 0.01
    max_cases_per_person: int = 2
    aliases: Path | None = None
    cap_micro: int = 10_000_000  # budgets of a dataset the load creates
    max_per_query_micro: int = 500_000
    range_bytes: int = 8 << 20  # the unit of parallel work
    workers: int | None = None  # worker processes; default: one per core


def rejects_path(path: Path) -> Path:
    return path.with_name(path.name + ".rejects.csv")


def load_file(
    path: Path, engine: Engine, options: LoadOptions, progress: Progress | None = None
) -> LoadReport:
    if not path.is_file():
        raise LoadRefused(f"no such file: {path}")
    if not options.pseudonym_key:
        raise LoadRefused("no pseudonym key: set AMAAN_PSEUDONYM_KEY")
    build_codebook(options.aliases)  # a bad mapping file fails here, before any work
    reader = ExportReader(path)
    ranges, sha = split(path, reader.data_start, options.range_bytes)
    with (
        temporary_directory() as tmp,
        worker_pool(len(ranges), options.workers) as pool,
        engine.begin() as conn,
    ):
        session = Session(bind=conn)
        lists = codelists()
        dataset = datasets_repo.get_or_create_dataset(
            session,
            options.dataset,
            max_cases_per_person=options.max_cases_per_person,
            max_vulnerable_groups=lists["vulnerable_group"].default_max_values,
            max_referrals=lists["referral"].default_max_values,
            cap_micro=options.cap_micro,
            max_per_query_micro=options.max_per_query_micro,
        )
        done = datasets_repo.batch_for_file(session, dataset.id, sha)
        if done is not None:
            version = session.get(DatasetVersion, done.version_id)
            assert version is not None
            return LoadReport(options.dataset, version.number, True, sha)
        report = LoadReport(options.dataset, 0, False, sha, columns_dropped=reader.dropped)
        job = RangeJob(
            path=path,
            width=len(reader.header),
            places=reader.places,
            key=options.pseudonym_key,
            limits=Limits(dataset.max_vulnerable_groups, dataset.max_referrals),
            aliases=options.aliases,
            today=date.today(),
        )
        buckets = Buckets.for_size(path.stat().st_size // AVERAGE_ROW_BYTES, Path(tmp))
        _read_all(path, job, ranges, pool, buckets, report, progress)
        _refuse_if_unfit(report, options.max_reject_rate)
        _fold_into_new_version(conn, session, dataset, buckets, report, path, sha)
        return report


def _read_all(
    path: Path,
    job: RangeJob,
    ranges: list[tuple[int, int]],
    pool: parallel.Pool | None,
    buckets: Buckets,
    report: LoadReport,
    progress: Progress | None,
) -> None:
    """Partition every valid case into the buckets; write the rejects file; count."""
    out = rejects_path(path)
    tmp = out.with_name(out.name + ".part")
    reasons: Counter[str] = Counter()
    size = path.stat().st_size
    try:
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["row", "column", "reason"])
            for result in parallel.results(job, ranges, pool):
                offset = report.rows_read
                t = result.transformed
                t.cases["seq"] += offset
                buckets.append(t.cases)
                rejects = t.rejects.assign(row=t.rejects["row"].astype("int64") + offset)
                writer.writerows(rejects.itertuples(index=False, name=None))
                for col, why in zip(rejects["column"], rejects["reason"], strict=True):
                    reasons[f"{col}: {why}"] += 1
                report.rows_read += result.records
                report.rows_rejected += result.records - len(t)
                report.values_cut_by_multi_value_bound += t.values_cut
                if progress:
                    progress(result.end, size, report.rows_read)
        report.rejects_by_reason = dict(reasons)
        if report.rows_rejected:
            os.replace(tmp, out)
            report.rejects_file = str(out)
    finally:
        tmp.unlink(missing_ok=True)


def _fold_into_new_version(
    conn: Connection,
    session: Session,
    dataset: Dataset,
    buckets: Buckets,
    report: LoadReport,
    path: Path,
    sha: str,
) -> None:
    by_year: Counter[str] = Counter()
    combos: list[np.ndarray] = []
    counts: list[np.ndarray] = []
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
        first_month="",
        last_month="",
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
    span = loads.month_range(conn, version.id)
    assert span is not None
    version.first_month, version.last_month = span
    report.cases_loaded_by_year = dict(sorted(by_year.items()))
    report.cases_loaded = sum(by_year.values())
    report.version = version.number
    session.add(
        LoadBatch(
            dataset_id=dataset.id,
            version_id=version.id,
            file_sha256=sha,
            file_name=path.name[:255],
            rows_read=report.rows_read,
            rows_rejected=report.rows_rejected,
            cases_cut_by_person_bound=report.cases_cut_by_person_bound,
            values_cut_by_multi_value_bound=report.values_cut_by_multi_value_bound,
            cases_loaded=report.cases_loaded,
        )
    )
    session.flush()


def _refuse_if_unfit(report: LoadReport, max_reject_rate: float) -> None:
    if report.rows_read == 0:
        raise LoadRefused("the file has a header but no rows")
    rate = report.rows_rejected / report.rows_read
    if report.rows_rejected == report.rows_read:
        raise LoadRefused(f"every row was rejected; see {report.rejects_file}")
    if rate > max_reject_rate:
        raise LoadRefused(
            f"{report.rows_rejected:,} of {report.rows_read:,} rows rejected ({rate:.2%}), "
            f"above the limit of {max_reject_rate:.2%}; see {report.rejects_file}. "
            "Nothing was loaded."
        )
