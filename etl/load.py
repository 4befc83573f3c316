"""``amaan etl load``: stream a raw export into a new dataset version, in one transaction.

Everything that can refuse the file without reading its records (the header, the declared
coverage against the dataset's, the case_ref and consent columns) refuses first. Then the
records are staged, cases loaded before are skipped (``etl.dedupe``), each person is bounded
(``etl.bound``), and the new version's facts, the batch and its counts are written; a refusal
at any point rolls everything back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from etl.bound import Buckets, temporary_directory
from etl.codes import build_codebook
from etl.coverage import Coverage
from etl.dedupe import skip_loaded
from etl.errors import LoadRefused
from etl.fold import PIPELINE_VERSION, fold_into_new_version
from etl.parallel import RangeJob, worker_pool
from etl.ranges import split
from etl.reader import ExportReader
from etl.records import ReadLimits
from etl.report import NO_CASE_REF, LoadReport
from etl.stage import Progress, read_all, rejects_path
from etl.transform import Limits, Rules
from schema.codelists import codelists
from schema.models import Dataset, DatasetVersion, LoadBatch
from schema.repositories import datasets as datasets_repo
from schema.repositories import loads

__all__ = ["LoadOptions", "Progress", "load_file", "rejects_path"]
AVERAGE_ROW_BYTES = 150  # a low guess, so that buckets err on the small side


@dataclass(frozen=True)
class LoadOptions:
    dataset: str
    pseudonym_key: bytes
    covers: Coverage  # the period the export declares it covers; no default on purpose
    max_reject_rate: float = 0.01
    max_cases_per_person: int = 2
    aliases: Path | None = None
    cap_micro: int = 10_000_000  # budgets of a dataset the load creates
    max_per_query_micro: int = 500_000
    range_bytes: int = 8 << 20  # the unit of parallel work
    workers: int | None = None  # worker processes; default: one per core
    read_limits: ReadLimits = field(default_factory=ReadLimits)
    no_case_ref: bool = False  # allow an export without case_ref (the file hash only)
    blank_is_consent: bool | None = None  # for a dataset the load creates; None: the default


def load_file(
    path: Path, engine: Engine, options: LoadOptions, progress: Progress | None = None
) -> LoadReport:
    if not path.is_file():
        raise LoadRefused(f"no such file: {path}")
    if not options.pseudonym_key:
        raise LoadRefused("no pseudonym key: set AMAAN_PSEUDONYM_KEY")
    build_codebook(options.aliases)  # a bad mapping file fails here, before any work
    reader = ExportReader(path, options.read_limits)
    has_refs = "case_ref" in reader.header
    if not has_refs and not options.no_case_ref:
        raise LoadRefused(f"{NO_CASE_REF}. Add the column, or pass --no-case-ref.")
    ranges, sha = split(path, reader.data_start, options.read_limits, options.range_bytes)
    with (
        temporary_directory() as tmp,
        worker_pool(len(ranges), options.workers) as pool,
        engine.begin() as conn,
    ):
        session = Session(bind=conn)
        dataset = _dataset(session, options)
        done = datasets_repo.batch_for_file(session, dataset.id, sha)
        if done is not None:
            return _unchanged(session, options, done)
        _refuse_mixed_rules(session, dataset)
        if "consent_to_share" not in reader.header and not dataset.blank_is_consent:
            raise LoadRefused(
                f"the file has no consent_to_share column, and dataset {dataset.slug} counts "
                "only a recorded yes as consent: add the column (yes, no or blank per case)"
            )
        previous = datasets_repo.latest_version(session, dataset.id)
        earlier = Coverage(previous.first_month, previous.last_month) if previous else None
        version_covers = options.covers.joined(earlier)
        report = LoadReport(
            options.dataset,
            0,
            False,
            sha,
            covers=options.covers.text(),
            version_covers=version_covers.text(),
            columns_dropped=reader.dropped,
            columns_dropped_unnamed=reader.dropped_unnamed,
            case_refs=has_refs,
            warnings=[] if has_refs else [NO_CASE_REF],
        )
        job = RangeJob(
            path=path,
            width=len(reader.header),
            places=reader.places,
            key=options.pseudonym_key,
            limits=Limits(dataset.max_vulnerable_groups, dataset.max_referrals),
            aliases=options.aliases,
            today=date.today(),
            rules=Rules(options.covers.month_indexes(), dataset.blank_is_consent, has_refs),
            read_limits=options.read_limits,
        )
        expected = path.stat().st_size // AVERAGE_ROW_BYTES
        people = Buckets.for_size(expected, Path(tmp))
        staged = Buckets.for_size(expected, Path(tmp), by="ref") if has_refs else people
        read_all(path, job, ranges, pool, staged, report, progress)
        _refuse_if_unfit(report, options.max_reject_rate)
        if has_refs:
            duplicates = skip_loaded(
                staged,
                lambda lo, hi: loads.prior_case_refs(conn, dataset.id, lo, hi),
                lambda refs: loads.add_case_refs(conn, dataset.id, refs),
                people,
            )
            report.duplicates_within_file = duplicates.within_file
            report.duplicates_loaded_before = duplicates.loaded_before
            report.duplicates_skipped = duplicates.total
        fold_into_new_version(
            conn, session, dataset, people, report, path, options.covers, version_covers
        )
        if not report.balanced():
            raise LoadRefused("internal error: the load report does not add up; nothing loaded")
        session.commit()  # the session's part, in conn's transaction: sets the cache token
        return report


def _dataset(session: Session, options: LoadOptions) -> Dataset:
    lists = codelists()
    dataset = datasets_repo.get_or_create_dataset(
        session,
        options.dataset,
        max_cases_per_person=options.max_cases_per_person,
        max_vulnerable_groups=lists["vulnerable_group"].default_max_values,
        max_referrals=lists["referral"].default_max_values,
        cap_micro=options.cap_micro,
        max_per_query_micro=options.max_per_query_micro,
        blank_is_consent=bool(options.blank_is_consent),
    )
    wanted = options.blank_is_consent
    if wanted is not None and wanted != dataset.blank_is_consent:
        now = "counts" if dataset.blank_is_consent else "does not count"
        raise LoadRefused(
            f"dataset {dataset.slug} already {now} a blank consent_to_share as consent; "
            "that is fixed when the dataset is created (--blank-consent applies only then)"
        )
    return dataset


def _unchanged(session: Session, options: LoadOptions, batch: LoadBatch) -> LoadReport:
    version = session.get(DatasetVersion, batch.version_id)
    assert version is not None
    declared = Coverage(batch.covers_first, batch.covers_last)
    if declared != options.covers:
        raise LoadRefused(
            f"this file was already loaded as version {version.number} declaring --covers "
            f"{declared.text()}, not {options.covers.text()}; nothing changed"
        )
    covers = declared.text()
    return LoadReport(options.dataset, version.number, True, batch.file_sha256, covers, covers)


def _refuse_mixed_rules(session: Session, dataset: Dataset) -> None:
    older = datasets_repo.older_pipeline_batches(session, dataset.id, PIPELINE_VERSION)
    if older:
        raise LoadRefused(
            f"dataset {dataset.slug} holds {older} batch(es) loaded before contact keys were "
            "normalised and case references recorded: new pseudonyms would not match theirs, "
            "so neither the person bound nor duplicate detection could hold across them. "
            "Load every export again into a new dataset."
        )


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
