"""Benchmark: downloading a published 8,100-cell extract, CSV beside JSON.

A real server (2 uvicorn workers, production settings) on PostgreSQL with the demo data.
Staff publish an extract of 8,100 cells (75 months × 12 complaint types × 9 provinces,
rounded to 5), then concurrent partner clients download it for a fixed time as CSV and as
JSON. Every download is authenticated, checked against the audience and audited. The client
shares the 2 cores with the server.
Run: ``python -m bench.extracts``.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from bench.server import scratch_database, serving

# 75 months (2017-10 .. 2023-12) × 12 complaint types × 9 provinces = 8,100 cells.
EXTRACT = {
    "dataset": "helpline-cases",
    "group_by": ["month", "complaint_type", "province"],
    "period": {"from": "2017-10", "to": "2023-12"},
    "epsilon": 0.5,
}


def _setup(url: str) -> tuple[str, str]:
    from schema.db import make_engine
    from schema.models import Dataset
    from schema.repositories import accounts

    engine = make_engine(url)
    with Session(engine) as s, s.begin():
        dataset = s.scalars(select(Dataset)).one()
        staff = accounts.create_account(s, name="staff", role="admin")
        partner = accounts.create_account(s, name="ngo", role="partner")
        for account in (staff, partner):
            accounts.grant(s, account.id, dataset.id)
        keys = accounts.issue_key(s, staff.id)[1], accounts.issue_key(s, partner.id)[1]
    engine.dispose()
    return keys


async def _downloads(
    base: str, url: str, key: str, seconds: float, clients: int
) -> tuple[float, list[float], int]:
    headers = {"Authorization": f"Bearer {key}"}
    latencies: list[float] = []
    size = 0
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        first = await client.get(url, headers=headers)
        assert first.status_code == 200, first.text
        size = len(first.content)
        stop = time.perf_counter() + seconds

        async def loop() -> None:
            while time.perf_counter() < stop:
                start = time.perf_counter()
                r = await client.get(url, headers=headers)
                latencies.append(time.perf_counter() - start)
                assert r.status_code == 200, r.status_code

        began = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(clients)))
        elapsed = time.perf_counter() - began
    return len(latencies) / elapsed, latencies, size


def main() -> None:
    with scratch_database() as url:
        staff_key, partner_key = _setup(url)
        with serving(url) as base:
            body = {
                "title": "Monthly complaints by type and province",
                "query": EXTRACT,
                "audience": ["all-partners"],
            }
            r = httpx.post(
                f"{base}/v1/admin/releases",
                json=body,
                headers={"Authorization": f"Bearer {staff_key}"},
                timeout=120,
            )
            assert r.status_code == 201, r.text
            release = r.json()["release_id"]
            cells = len(
                httpx.get(
                    f"{base}/v1/releases/{release}",
                    headers={"Authorization": f"Bearer {partner_key}"},
                    timeout=60,
                ).json()["cells"]
            )
            print(f"extract {release}: {cells:,} cells")
            print("format  clients  req/s   p50 ms   p99 ms   bytes")
            for label, path in (
                ("csv", f"/v1/releases/{release}?format=csv"),
                ("json", f"/v1/releases/{release}"),
            ):
                rate, lat, size = asyncio.run(_downloads(base, path, partner_key, 10, 8))
                lat.sort()
                p50 = statistics.median(lat) * 1000
                p99 = lat[int(len(lat) * 0.99)] * 1000
                print(f"{label:<7} {8:>7} {rate:>6,.0f} {p50:>8.1f} {p99:>8.1f} {size:>8,}")


if __name__ == "__main__":
    main()
