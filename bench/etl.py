"""Benchmark: load a 1,000,000-row synthetic export into SQLite and into PostgreSQL.

Each load runs in a fresh child process, so the peak resident memory reported is the
loader's own; its worker processes (one per core) are reported beside it.
Run: ``make bench`` or ``python -m bench.etl [--rows N]``. PostgreSQL comes from
AMAAN_BENCH_POSTGRES_URL (default: the local server's ``test`` database; a scratch database
is created and dropped).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

OUT = Path(__file__).parent / "out"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def child(url: str, path: str) -> None:
    from etl.coverage import Coverage
    from etl.load import LoadOptions, load_file
    from schema.db import make_engine
    from schema.migrate import upgrade

    # The synthetic export covers 2017 to 2024, every month.
    covers = Coverage("2017-01", "2024-12")
    options = LoadOptions("bench", b"bench-key-0123456789abcdef", covers)

    upgrade(url)
    engine = make_engine(url)
    start = time.perf_counter()
    report = load_file(Path(path), engine, options)
    seconds = time.perf_counter() - start
    engine.dispose()
    main_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    worker_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(
        json.dumps(
            {
                "rows": report.rows_read,
                "loaded": report.cases_loaded,
                "seconds": seconds,
                "peak_mb": main_kb / 1024,
                "worker_peak_mb": worker_kb / 1024,
            }
        )
    )


def run(url: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.etl", "--child", url, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", nargs=2, metavar=("URL", "FILE"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    from etl.synth import SynthOptions, write_export

    OUT.mkdir(exist_ok=True)
    path = OUT / f"export-{args.rows}.csv"
    if not path.exists():
        print(f"synthesising {args.rows:,} rows into {path} ...", flush=True)
        write_export(path, SynthOptions(seed=1, rows=args.rows))
    size_mb = path.stat().st_size / 2**20
    print(f"file: {path.name}, {size_mb:,.0f} MB")
    print(
        f"{'backend':<11} {'rows':>10} {'seconds':>8} {'rows/s':>9} {'peak RSS MB':>12} "
        f"{'worker peak MB':>15}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        results = {"sqlite": run(f"sqlite:///{tmp}/bench.db", path)}
    server = make_url(os.environ.get("AMAAN_BENCH_POSTGRES_URL", DEFAULT_PG))
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"amaan_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        pg = server.set(database=name).render_as_string(hide_password=False)
        results["postgresql"] = run(pg, path)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    for backend, r in results.items():
        rate = r["rows"] / r["seconds"]
        print(
            f"{backend:<11} {r['rows']:>10,.0f} {r['seconds']:>8.1f} {rate:>9,.0f} "
            f"{r['peak_mb']:>12,.0f} {r['worker_peak_mb']:>15,.0f}"
        )


if __name__ == "__main__":
    main()
