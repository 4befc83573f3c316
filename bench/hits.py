"""Profile of cached hits, in process: the whole ASGI app (every middleware) over N requests
of one stored 216-cell release, through ``httpx.ASGITransport``; the time a hit takes and the
SQL statements it sends, then ``cProfile``'s top functions by cumulative time.

The profile runs the thread pool's work inline (``anyio.to_thread.run_sync`` replaced for
it), so that one profiler sees a hit's whole CPU; the timings before it are of the app as
served. Run: ``python -m bench.hits [--hits N] [--top K]`` (PostgreSQL from
AMAAN_BENCH_POSTGRES_URL; a scratch database with the demo data, dropped afterwards).
Production settings, rate limits in memory and high enough never to refuse.

``--server``: instead, real servers (``amaan serve`` and ``bench.minimal_app``, 2 workers
each, as ``bench.api`` runs them) and N sequential hits from one client to each: the CPU time
their processes (the workers and the supervisor, where ``amaan serve`` seals the audit log)
spent per request (from /proc), which the load of a shared machine changes far less than
requests per second, and the ratio (the wrk target of 40% of the
minimal route's req/s needs Amaan at most 2.5 times its CPU a request).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bench.api import SMALL, _setup
from bench.server import SERVERS, UNLIMITED, scratch_database, serving, serving_minimal

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


def _cpu_seconds(pid: int) -> float:
    """CPU time of a server's processes, in seconds: its worker processes (its children) and
    itself (``amaan serve`` with several workers seals the audit log there)."""
    total = 0.0
    pids = [str(pid)]
    for task in Path(f"/proc/{pid}/task").iterdir():
        pids += (task / "children").read_text().split()
    for each in pids:
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _server_cpu(base: str, key: str, n: int) -> tuple[float, float]:
    """ms of server CPU a request, and ms of wall time a request, over n sequential hits."""
    pid = SERVERS[-1].pid
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, timeout=60) as client:
        for _ in range(50):  # warm both workers
            assert client.post("/v1/queries", json=QUERY, headers=headers).status_code == 200
        cpu, start = _cpu_seconds(pid), time.perf_counter()
        for _ in range(n):
            assert client.post("/v1/queries", json=QUERY, headers=headers).status_code == 200
        wall = time.perf_counter() - start
    return 1000 * (_cpu_seconds(pid) - cpu) / n, 1000 * wall / n


def servers(hits: int) -> None:
    with scratch_database() as url:
        key = _setup(url)
        with serving(url) as base:
            amaan = _server_cpu(base, key, hits)
        with serving_minimal(url) as minimal:
            ref = _server_cpu(minimal, key, hits)
    print(f"{hits} sequential requests; server CPU ms a request (wall ms a request)")
    print(f"  Amaan cached hit  {amaan[0]:6.2f} ({amaan[1]:.2f})")
    print(f"  minimal route     {ref[0]:6.2f} ({ref[1]:.2f})")
    print(f"  ratio             {amaan[0] / ref[0]:6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hits", type=int, default=500)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--server", action="store_true", help="server CPU of real servers")
    args = parser.parse_args()
    if args.server:
        servers(args.hits)
        return
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
