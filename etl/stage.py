"""Reading every range of the export into staging buckets, writing the rejects file, counting.

Ranges come back in file order, so a range that cannot be read is named by its absolute
record number (records counted so far, plus its own) and byte offset. The rejects file is
written beside the export under a temporary name and kept only when it has rows.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from etl import parallel
from etl.bound import Buckets
from etl.errors import LoadRefused
from etl.parallel import RangeJob
from etl.records import RangeRefused
from etl.report import LoadReport

Progress = Callable[[int, int, int], None]  # bytes read, file size, rows read


def rejects_path(path: Path) -> Path:
    return path.with_name(path.name + ".rejects.csv")


def read_all(
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
            results = parallel.results(job, ranges, pool)
            while True:
                try:
                    result = next(results, None)
                except RangeRefused as exc:
                    record = report.rows_read + exc.record + 2  # the header is record 1
                    raise LoadRefused(
                        f"{exc.reason} (record {record:,}, byte {exc.offset:,}). "
                        "Nothing was loaded."
                    ) from None
                if result is None:
                    break
                offset = report.rows_read
                t = result.transformed
                t.cases["seq"] += offset
                buckets.append(t.cases)
                rejects = t.rejects.assign(row=t.rejects["row"].astype("int64") + offset)
                writer.writerows(rejects.itertuples(index=False, name=None))
                for col, why in zip(rejects["column"], rejects["reason"], strict=True):
                    reasons[f"{col}: {why}"] += 1
                report.rows_read += result.records
                report.rows_rejected += result.records - len(t) - t.consent_refused
                report.consent_refused += t.consent_refused
                report.values_cut_by_multi_value_bound += t.values_cut
                if progress:
                    progress(result.end, size, report.rows_read)
        report.rejects_by_reason = dict(reasons)
        if report.rows_rejected:
            os.replace(tmp, out)
            report.rejects_file = str(out)
    finally:
        tmp.unlink(missing_ok=True)
