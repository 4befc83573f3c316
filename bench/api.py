"""Benchmark: the API over a real server (2 uvicorn workers) on PostgreSQL, demo data.

Uncached latency (each request a new query: the ε differs by a micro-ε) for a 216-cell and a
6,912-cell table, beside the raw GROUP BY of the same query in this process; then cached
requests per second and their latency percentiles from concurrent clients. The client runs on
the same 2-core machine, so it takes CPU from the server.
Run: ``python -m bench.api`` (PostgreSQL from AMAAN_BENCH_POSTGRES_URL; a scratch database).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import statistics
import subprocess
import tempfile
import time

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from bench.server import scratch_database, serving

SMALL = ["gender", "age_band", "province"]  # 4 × 6 × 9 = 216 cells
LARGE = ["month", "complaint_type", "age_band"]  # 96 × 12 × 6 = 6,912 cells


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


def _raw_group_by(url: str, group_by: list[str], repeats: int = 20) -> float:
    from schema.db import make_engine
    from schema.models import DatasetVersion
    from schema.repositories.warehouse import count_cases

    engine = make_engine(url)
    times = []
    with Session(engine) as s:
        version = s.scalars(select(DatasetVersion.id)).one()
        for _ in range(repeats):
            start = time.perf_counter()
            count_cases(s, version, group_by)
            times.append(time.perf_counter() - start)
    engine.dispose()
    return statistics.median(times) * 1000


def _uncached(base: str, key: str, group_by: list[str], n: int) -> float:
    times = []
    with httpx.Client(base_url=base, timeout=60) as client:
        for i in range(n):
            body = {
                "dataset": "helpline-cases",
                "group_by": group_by,
                "epsilon": float(f"0.1{i + 1 + 1000 * len(group_by[0]):05d}"),  # exact decimals
            }
            start = time.perf_counter()
            r = client.post("/v1/queries", json=body, headers={"Authorization": f"Bearer {key}"})
            times.append(time.perf_counter() - start)
            assert r.status_code == 200 and not r.json()["cached"], r.status_code
    return statistics.median(times) * 1000


async def _cached(base: str, key: str, seconds: float, clients: int) -> tuple[float, list[float]]:
    body = {"dataset": "helpline-cases", "group_by": SMALL, "epsilon": 0.1}
    headers = {"Authorization": f"Bearer {key}"}
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        assert (await client.post("/v1/queries", json=body, headers=headers)).status_code == 200
        stop = time.perf_counter() + seconds

        async def loop() -> None:
            while time.perf_counter() < stop:
                start = time.perf_counter()
                r = await client.post("/v1/queries", json=body, headers=headers)
                latencies.append(time.perf_counter() - start)
                assert r.status_code == 200 and r.json()["cached"], r.status_code

        began = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(clients)))
        elapsed = time.perf_counter() - began
    return len(latencies) / elapsed, latencies


def _wrk(
    base: str, key: str, seconds: int, connections: int, group_by: list[str] = SMALL
) -> tuple[float, float, float]:
    """Cached requests from wrk (C, one thread: it takes little CPU from the server)."""
    body = json.dumps({"dataset": "helpline-cases", "group_by": group_by, "epsilon": 0.1})
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(
            f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.headers["Authorization"] = "Bearer {key}"\n'
        )
        script.flush()
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                script.name,
                f"{base}/v1/queries",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    assert "Non-2xx" not in out, out

    def ms(text: str) -> float:
        for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
            if text.endswith(unit):
                return float(text[: -len(unit)]) * factor
        raise ValueError(text)

    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    # Anchored at the start of a line: the thread stats end in a "+/- Stdev" share such as
    # "87.50%", which an unanchored "50%" would match.
    p50 = ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    return rate, p50, p99


def main() -> None:
    with scratch_database() as url:
        key = _setup(url)
        with serving(url) as base:
            print("query                         cells  raw GROUP BY p50 ms  uncached p50 ms")
            for label, group_by, cells, n in (
                ("gender × age × province", SMALL, 216, 60),
                ("month × type × age band", LARGE, 6912, 20),
            ):
                raw = _raw_group_by(url, group_by)
                api = _uncached(base, key, group_by, n)
                print(f"{label:<28} {cells:>6,} {raw:>20.1f} {api:>16.1f}")
            if shutil.which("wrk"):
                for connections in (4, 16):
                    rate, p50, p99 = _wrk(base, key, 10, connections)
                    print(
                        f"cached (216 cells), wrk, {connections} connections, 10 s: "
                        f"{rate:,.0f} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms"
                    )
                # A large cached table: reading and sending its 3.7 MB body is where a lock
                # taken by the audit append (before the sequencer) was held longest.
                rate, p50, p99 = _wrk(base, key, 10, 16, LARGE)
                print(
                    f"cached (6,912 cells), wrk, 16 connections, 10 s: "
                    f"{rate:,.0f} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms"
                )
            rate, lat = asyncio.run(_cached(base, key, seconds=10, clients=16))
            lat.sort()
            p50 = lat[len(lat) // 2] * 1000
            p99 = lat[int(len(lat) * 0.99)] * 1000
            print(
                f"cached (216 cells), httpx, 16 clients, 10 s: {rate:,.0f} req/s, "
                f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
            )


if __name__ == "__main__":
    main()
