"""Benchmark: where the audit sealer runs, and the tail of cached hits (issue 14).

Every cached hit appends an audit entry, and about a second later a sealer gives it its place
in the chain (``schema.repositories.audit_seal``): Python work (two HMACs an entry) and an
UPDATE of the entry's row. Three servers over the same scratch database, each with 2 workers
and the same ``wrk`` runs as ``bench.api``'s cached part (216 cells, 4 and 16 connections):

- ``supervisor``: ``amaan serve``, which seals in its own process (the default);
- ``workers``: the app under uvicorn directly, as another process manager would run it: each
  worker seals, on its own GIL;
- ``none``: ``amaan serve`` sealing once a minute, so not during a run (a reference only).

Rounds alternate the three, a fresh server each (same audit key), and print every run; then
the medians per setting. The request log is off in all three. Run:
``python -m bench.sealing [--rounds N] [--seconds S]`` (PostgreSQL from
AMAAN_BENCH_POSTGRES_URL; a scratch database; needs ``wrk``).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import uuid

import httpx

from bench.api import SMALL, _setup, _wrk
from bench.server import scratch_database, serving

SETTINGS = {
    "supervisor": ({}, False),
    "workers": ({}, True),
    "none": ({"AMAAN_AUDIT_SEAL_INTERVAL": "60"}, False),
}
CONNECTIONS = (4, 16)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sealing")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the three servers")
    parser.add_argument("--seconds", type=int, default=6, help="seconds of each wrk run")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("bench.sealing needs wrk (Debian package wrk)")
    runs: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
    query = {"dataset": "helpline-cases", "group_by": SMALL, "epsilon": 0.1}
    with scratch_database() as url:
        key = _setup(url)
        common = {"AMAAN_AUDIT_KEY": "bench-audit-key-" + uuid.uuid4().hex}
        common["AMAAN_REQUEST_LOG"] = "false"
        print(f"{'sealing':<11} {'connections':>11} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} ratio")
        for _ in range(args.rounds):
            for name, (settings, under_uvicorn) in SETTINGS.items():
                with serving(url, settings=common | settings, under_uvicorn=under_uvicorn) as base:
                    for _ in range(6):  # the first request per worker loads what it keeps
                        httpx.post(
                            f"{base}/v1/queries",
                            json=query,
                            headers={"Authorization": f"Bearer {key}"},
                            timeout=60,
                        ).raise_for_status()
                    for connections in CONNECTIONS:
                        rate, p50, p99 = _wrk(base, key, args.seconds, connections)
                        runs.setdefault((name, connections), []).append((rate, p50, p99))
                        print(
                            f"{name:<11} {connections:>11} {rate:>7,.0f} {p50:>7.2f} "
                            f"{p99:>7.2f} {p99 / p50:>5.2f}",
                            flush=True,
                        )
    print(f"medians over {args.rounds} rounds")
    for (name, connections), rows in runs.items():
        rate = statistics.median(r[0] for r in rows)
        ratio = statistics.median(r[2] / r[1] for r in rows)
        p99 = statistics.median(r[2] for r in rows)
        print(f"{name:<11} {connections:>11} {rate:>7,.0f} p99 {p99:>6.2f} ms, p99/p50 {ratio:.2f}")


if __name__ == "__main__":
    main()
