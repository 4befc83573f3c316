"""``amaan etl load``: stream a raw export into a new dataset version, in one transaction."""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from etl.codes import build_codebook
from etl.errors import LoadRefused
from etl.reader import ExportReader, file_sha256
from etl.report import LoadReport
from etl.transform import STAGED_COLUMNS, Limits, transform_chunk
from schema.codelists import codelists
from schema.models import DatasetVersion, LoadBatch
from schema.repositories import datasets as datasets_repo
from schema.repositories import loads

Progress = Callable[[int, int, int], None]  # bytes read, file size, rows read


@dataclass(frozen=True)
class LoadOptions:
    dataset: str
    pseudonym_key: bytes
    max_reject_rate: float = 0.01
    max_cases_per_person: int = 2
    aliases: Path | None = None
    chunk_rows: int = 50_000


def rejects_path(path: Path) -> Path:
    return path.with_name(path.name + ".rejects.csv")


def load_file(
    path: Path, engine: Engine, options: LoadOptions, progress: Progress | None = None
) -> LoadReport:
    if not path.is_file():
        raise LoadRefused(f"no such file: {path}")
    if not options.pseudonym_key:
        raise LoadRefused("no pseudonym key: set AMAAN_PSEUDONYM_KEY")
    book = build_codebook(options.aliases)
    sha = file_sha256(path)
    size = path.stat().st_size
    with ExportReader(path, options.chunk_rows) as reader, engine.begin() as conn:
        session = Session(bind=conn)
        lists = codelists()
        dataset = datasets_repo.get_or_create_dataset(
            session,
            options.dataset,
            max_cases_per_person=options.max_cases_per_person,
            max_vulnerable_groups=lists["vulnerable_group"].default_max_values,
            max_referrals=lists["referral"].default_max_values,
        )
        done = datasets_repo.batch_for_file(session, dataset.id, sha)
        if done is not None:
            version = session.get(DatasetVersion, done.version_id)
            assert version is not None
            return LoadReport(options.dataset, version.number, True, sha)

        report = LoadReport(options.dataset, 0, False, sha, columns_dropped=reader.dropped)
        limits = Limits(dataset.max_vulnerable_groups, dataset.max_referrals)
        reasons: Counter[str] = Counter()
        out = rejects_path(path)
        tmp = out.with_name(out.name + ".part")
        loads.create_staging(conn)
        try:
            with tmp.open("w", encoding="utf-8", newline="") as rejects_fh:
                writer = csv.writer(rejects_fh)
                writer.writerow(["row", "column", "reason"])
                for chunk in reader.chunks():
                    t = transform_chunk(chunk, book, options.pseudonym_key, limits)
                    columns = (t.cases[c].tolist() for c in STAGED_COLUMNS)
                    loads.stage_rows(conn, zip(*columns, strict=True))
                    writer.writerows(t.rejects.itertuples(index=False, name=None))
                    report.rows_rejected += chunk.size - len(t.cases)
                    report.values_cut_by_multi_value_bound += t.values_cut
                    for col, why in zip(t.rejects["column"], t.rejects["reason"], strict=True):
                        reasons[f"{col}: {why}"] += 1
                    if progress:
                        progress(reader.bytes_read(), size, reader.rows_read)
            report.rows_read = reader.rows_read
            report.rejects_by_reason = dict(reasons)
            if report.rows_rejected:
                os.replace(tmp, out)
                report.rejects_file = str(out)
            else:
                tmp.unlink()
            _refuse_if_unfit(report, options.max_reject_rate)

            previous = datasets_repo.latest_version(session, dataset.id)
            loads.bound_contributions(conn, dataset.id, dataset.max_cases_per_person)
            version = DatasetVersion(
                dataset_id=dataset.id,
                number=(previous.number + 1) if previous else 1,
                codelist_version=lists.version,
                first_month="",
                last_month="",
            )
            session.add(version)
            session.flush()
            loads.write_version_facts(conn, version.id, previous.id if previous else None)
            span = loads.month_range(conn, version.id)
            assert span is not None
            version.first_month, version.last_month = span
            staged = loads.staged_count(conn)
            report.cases_loaded_by_year = loads.kept_by_year(conn)
            report.cases_loaded = sum(report.cases_loaded_by_year.values())
            report.cases_cut_by_person_bound = staged - report.cases_loaded
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
            loads.drop_staging(conn)
        finally:
            tmp.unlink(missing_ok=True)
        return report


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
