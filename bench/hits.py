"""Profile of cached hits, in process: the whole ASGI app (every middleware) over N requests
of one stored 216-cell release, through ``httpx.ASGITransport``; the time a hit takes and the
SQL statements it sends, then ``cProfile``'s top functions by cumulative time.

The profile runs the thread pool's work inline (``anyio.to_thread.run_sync`` replaced for
it), so that one profiler sees a hit's whole CPU; the timings before it are of the app as
served. Run: ``python -m bench.hits [--hits N] [--top K]`` (PostgreSQL from
AMAAN_BENCH_POSTGRES_URL; a scratch database with the demo data, dropped afterwards).
Production settings, rate limits in memory and high enough never to refuse.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import time
import uuid
from collections import Counter
from typing import Any

import anyio.to_thread
import httpx
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bench.api import SMALL, _setup
from bench.server import UNLIMITED, scratch_database

QUERY = {"dataset": "helpline-cases", "group_by": SMALL, "epsilon": 0.1}


def _app(url: str) -> Any:
    from api.app import create_app
    from schema.settings import Settings

    settings = Settings(
        database_url=url,
        environment="production",
        audit_key="bench-audit-key-" + uuid.uuid4().hex,
        rate_limit_researcher=UNLIMITED,
        request_log=True,
    )
    return create_app(settings)


async def _inline(func: Any, *args: Any, **_: Any) -> Any:
    return func(*args)


async def _hits(client: httpx.AsyncClient, key: str, n: int) -> list[float]:
    headers = {"Authorization": f"Bearer {key}"}
    times = []
    for _ in range(n):
        start = time.perf_counter()
        response = await client.post("/v1/queries", json=QUERY, headers=headers)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200 and response.json()["cached"], response.text
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hits", type=int, default=500)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    statements: Counter[str] = Counter()

    def count(conn: Any, cursor: Any, sql: str, *rest: Any) -> None:
        statements[" ".join(sql.split())[:110]] += 1

    with scratch_database() as url:
        key = _setup(url)
        app = _app(url)
        transport = httpx.ASGITransport(app=app)

        async def run() -> None:
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                first = await client.post(
                    "/v1/queries", json=QUERY, headers={"Authorization": f"Bearer {key}"}
                )
                assert first.status_code == 200, first.text
                await _hits(client, key, 50)  # warm: caches, pools, imports
                event.listen(Engine, "before_cursor_execute", count)
                cpu = time.process_time()
                times = await _hits(client, key, args.hits)
                cpu = time.process_time() - cpu
                event.remove(Engine, "before_cursor_execute", count)
                times.sort()
                print(
                    f"{args.hits} hits: mean {1000 * sum(times) / len(times):.2f} ms, "
                    f"p50 {1000 * times[len(times) // 2]:.2f} ms, "
                    f"CPU of this process {1000 * cpu / args.hits:.2f} ms a hit"
                )
                print(f"statements a hit: {sum(statements.values()) / args.hits:.2f}")
                for sql, n in statements.most_common():
                    print(f"  {n / args.hits:5.2f}  {sql}")
                anyio.to_thread.run_sync = _inline  # type: ignore[assignment]
                profile = cProfile.Profile()
                profile.enable()
                await _hits(client, key, args.hits)
                profile.disable()
                out = io.StringIO()
                stats = pstats.Stats(profile, stream=out).sort_stats("cumulative")
                stats.print_stats(args.top)
                print(out.getvalue())

        asyncio.run(run())


if __name__ == "__main__":
    main()
