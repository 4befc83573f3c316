"""Benchmark: the API over a real server (2 uvicorn workers) on PostgreSQL, demo data, beside
references measured in the same run.

Uncached (each request a new query: the ε differs by a micro-ε), one client, sequential, for
a 216-cell and a 4,608-cell table; beside the bare library in this process: the same query's
GROUP BY on the same PostgreSQL (``count_cases``, filled into the key order) and OpenDP's
vector Laplace over it (the measurement Amaan plans, built once). Per cell, and their ratio.

Cached: the same query for 10 s from ``wrk`` (one C thread, so it takes little CPU from the
server) at 4 and 16 connections, beside a minimal route on the same stack
(``bench.minimal_app``: FastAPI + uvicorn, 2 workers, bearer key looked up by hash, one row
read from PostgreSQL) under the same ``wrk``. The client shares the 2-core machine.

Rounds alternate Amaan and its reference; the figures are medians over rounds.
Run: ``python -m bench.api [--rounds N]`` (PostgreSQL from AMAAN_BENCH_POSTGRES_URL; a scratch
database). Without ``wrk`` (Debian package ``wrk``) the cached part is skipped.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from bench.server import scratch_database, serving, serving_minimal

SMALL = ["gender", "age_band", "province"]  # 4 × 6 × 9 = 216 cells
LARGE = ["month", "complaint_type", "gender"]  # 96 × 12 × 4 = 4,608 cells
QUERIES = (("gender × age × province", SMALL, 216, 40), ("month × type × gender", LARGE, 4608, 9))
_serial = iter(range(1, 10**5))


def _setup(url: str) -> str:
    from schema.db import make_engine
    from schema.models import Dataset
    from schema.repositories import accounts

    engine = make_engine(url)
    with Session(engine) as s, s.begin():
        dataset = s.scalars(select(Dataset)).one()
        accounts.set_dataset_budget(s, dataset, 10**12, 500_000)
        account = accounts.create_account(s, name="bench", role="researcher")
        accounts.grant(s, account.id, dataset.id)
        accounts.set_account_budget(s, account.id, dataset.id, 10**12)
        key = accounts.issue_key(s, account.id)[1]
    engine.dispose()
    return key


def _bare(url: str, group_by: list[str], cells: int, repeats: int) -> tuple[float, float]:
    """The bare library, in process: the GROUP BY (ms, median) and the GROUP BY then OpenDP's
    vector Laplace over its cells (ms, median), at the scale Amaan plans for ε 0.1."""
    import privacy
    from api.releases import key_order
    from schema.codelists import codelists, time_codes
    from schema.db import make_engine
    from schema.models import DatasetVersion
    from schema.repositories.warehouse import count_cases

    plan = privacy.plan_release(
        epsilon=privacy.Epsilon.parse("0.1"),
        sensitivity=2,
        cells=cells,
        max_epsilon=privacy.Epsilon.parse("0.5"),
        max_cells=10_000,
    )
    engine = make_engine(url)
    sql, both = [], []
    with Session(engine) as s:
        version = s.scalars(select(DatasetVersion)).one()
        axes = [
            privacy.Axis(
                d,
                tuple(
                    time_codes(d, version.first_month, version.last_month)
                    if d == "month"
                    else codelists()[d].code_list()
                ),
            )
            for d in group_by
        ]
        keys = key_order(axes)
        assert len(keys) == cells
        for _ in range(repeats):
            start = time.perf_counter()
            counts = count_cases(s, version.id, group_by)
            sql.append(time.perf_counter() - start)
            plan.measurement([counts.get(k, 0) for k in keys])
            both.append(time.perf_counter() - start)
    engine.dispose()
    return statistics.median(sql) * 1000, statistics.median(both) * 1000


def _uncached(base: str, key: str, group_by: list[str], n: int) -> float:
    times = []
    with httpx.Client(base_url=base, timeout=60) as client:
        for _ in range(n):
            body = {
                "dataset": "helpline-cases",
                "group_by": group_by,
                "epsilon": float(f"0.1{next(_serial):05d}"),  # exact decimals, new each time
            }
            start = time.perf_counter()
            r = client.post("/v1/queries", json=body, headers={"Authorization": f"Bearer {key}"})
            times.append(time.perf_counter() - start)
            assert r.status_code == 200 and not r.json()["cached"], r.status_code
    return statistics.median(times) * 1000


def _ms(text: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    raise ValueError(text)


def parse_wrk(out: str) -> tuple[float, float, float]:
    """Requests per second, p50 and p99 (ms) from ``wrk --latency`` output."""
    rate = float(re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M).group(1))  # type: ignore[union-attr]
    # Anchored at the start of a line: the thread stats end in a "+/- Stdev" share such as
    # "87.50%", which an unanchored "50%" would match.
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    return rate, p50, p99


def _wrk(base: str, key: str, seconds: int, connections: int) -> tuple[float, float, float]:
    """Cached requests from wrk (C, one thread: it takes little CPU from the server)."""
    body = json.dumps({"dataset": "helpline-cases", "group_by": SMALL, "epsilon": 0.1})
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(
            f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.headers["Authorization"] = "Bearer {key}"\n'
        )
        script.flush()
        command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
        out = subprocess.run(
            [*command, "-s", script.name, f"{base}/v1/queries"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    assert "Non-2xx" not in out, out  # a timeout under load is counted, not refused
    return parse_wrk(out)


def _median(rows: list[tuple[float, ...]]) -> tuple[float, ...]:
    return tuple(statistics.median(column) for column in zip(*rows, strict=True))


def _rounds(n: int, run: Callable[[], tuple[float, ...]]) -> tuple[float, ...]:
    return _median([run() for _ in range(n)])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.api")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (medians are printed)")
    parser.add_argument("--seconds", type=int, default=10, help="seconds of each wrk run")
    parser.add_argument("--cached-only", action="store_true", help="skip the uncached part")
    args = parser.parse_args()
    with scratch_database() as url:
        key = _setup(url)
        with serving(url) as base, serving_minimal(url) as minimal:
            # A first request per worker loads what a worker keeps (code lists, plans).
            _uncached(base, key, SMALL, 4)
            print(
                f"uncached, {args.rounds} rounds (median ms; µs per cell in brackets)\n"
                f"{'query':<26} {'cells':>6} {'GROUP BY':>9} {'bare: GROUP BY + Laplace':>26} "
                f"{'Amaan over HTTP':>22} {'ratio':>6}"
            )
            for label, group_by, cells, n in () if args.cached_only else QUERIES:
                rows = []
                for _ in range(args.rounds):
                    sql, bare = _bare(url, group_by, cells, n)
                    rows.append((sql, bare, _uncached(base, key, group_by, n)))
                sql, bare, api = _median(rows)
                per = 1000 / cells
                print(
                    f"{label:<26} {cells:>6,} {sql:>9.1f} {bare:>13.1f} ({bare * per:>6.2f} µs) "
                    f"{api:>10.1f} ({api * per:>6.2f} µs) {api / bare:>6.2f}"
                )
            if not shutil.which("wrk"):
                print("cached: skipped (no wrk)")
                return
            print(f"cached, 216 cells, wrk {args.seconds} s, {args.rounds} rounds (medians)")
            print(f"{'connections':>11} {'route':<14} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7}")
            for connections in (4, 16):
                rows = []
                for _ in range(args.rounds):
                    ref = _wrk(minimal, key, args.seconds, connections)
                    rows.append((*ref, *_wrk(base, key, args.seconds, connections)))
                m = _median(rows)
                for name, (rate, p50, p99) in (("minimal route", m[:3]), ("Amaan cached", m[3:])):
                    print(f"{connections:>11} {name:<14} {rate:>7,.0f} {p50:>7.1f} {p99:>7.1f}")
                print(
                    f"{connections:>11} {'Amaan/minimal':<14} {m[3] / m[0]:>7.0%} "
                    f"p99/p50 {m[5] / m[4]:.1f}"
                )


if __name__ == "__main__":
    main()
