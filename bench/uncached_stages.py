"""Where an uncached release's time goes, in process, on PostgreSQL with the demo data.

For each table (216 and 4,608 cells), ``--requests`` uncached queries (a new ε each) are
answered through the service (``answers.answer`` and the REST rendering, in this thread,
committed like a request), with stage timers around the pipeline's parts; then the same
number through the ASGI app (``TestClient``: authentication, middleware, routing) for the
whole request's time. Medians of the totals, means of the stages, in ms. ``--profile``
prints cProfile's top functions of the service part instead of timing stages.

Run: ``python -m bench.uncached_stages [--requests 10] [--profile]`` (PostgreSQL from
AMAAN_BENCH_POSTGRES_URL; a scratch database).
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import os
import pstats
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from bench.api import LARGE, SMALL
from bench.server import UNLIMITED, scratch_database

# (module, attribute, stage): each is wrapped by a timer where the pipeline calls it.
STAGES = [
    ("api.releases", "resolve", "resolve"),
    ("api.releases", "prepare", "prepare"),
    ("api.releases", "count_grid", "group by + decode"),
    ("privacy.release", "measure", "opendp noise"),
    ("privacy.release", "postprocess", "post-processing"),
    ("api.tables", "in_columns", "body in columns"),
    ("api.columns", "pack", "pack body"),
    ("api.tables", "stored_noise", "encode noise"),
    ("schema.repositories.releases", "find", "cache lookup"),
    ("schema.repositories.releases", "claim", "claim"),
    ("schema.repositories.releases", "charge", "charge + ledger"),
    ("schema.repositories.releases", "claim_and_charge", "claim + charge + ledger"),
    ("schema.repositories.releases", "fill", "store body"),
    ("schema.repositories.audit", "append", "audit"),
    ("api.columns", "served_rows", "REST shape"),
]
times: dict[str, list[float]] = defaultdict(list)


def _timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            times[name].append(time.perf_counter() - start)

    return wrapper


def _instrument() -> None:
    """Wrap each stage in the module that defines it and where it is imported by name."""
    import sys

    for module, attr, stage in STAGES:
        if stage is None:
            continue
        original = getattr(importlib.import_module(module), attr)
        wrapped = _timed(stage, original)
        for loaded in list(sys.modules.values()):
            if getattr(loaded, attr, None) is original and (
                getattr(loaded, "__name__", "").startswith(("api", "privacy", "schema"))
            ):
                setattr(loaded, attr, wrapped)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    with scratch_database() as url:
        _run(url, args.requests, args.profile)


def _run(url: str, n: int, profile: bool) -> None:
    os.environ.update(
        AMAAN_DATABASE_URL=url,
        AMAAN_ENVIRONMENT="production",
        AMAAN_AUDIT_KEY="bench-audit-key-" + uuid.uuid4().hex,
        **{f"AMAAN_RATE_LIMIT_{r}": UNLIMITED for r in ("RESEARCHER", "PARTNER", "ADMIN")},
    )
    from fastapi.testclient import TestClient
    from sqlalchemy import event, select
    from sqlalchemy.orm import Session

    from api import answers
    from api.app import create_app
    from api.releases import CountQuery
    from api.routes.releases import release_json
    from bench.api import _setup
    from privacy import Epsilon
    from schema import generation
    from schema.access import Account
    from schema.db import make_engine
    from schema.repositories import accounts, catalogue
    from schema.settings import get_settings

    key = _setup(url)
    settings = get_settings()
    app = create_app(settings)
    serial = iter(range(1, 10**5))
    if not profile:
        _instrument()
    statements: list[str] = []
    engine = make_engine(url)
    with Session(engine) as s:
        account = s.scalars(select(Account).where(Account.name == "bench")).one()
        s.expunge(account)
    engine.dispose()

    def once(group_by: list[str]) -> float:
        """One ask as a worker's request makes it: a session of the app's (its worker
        cache), the token read with the account's budgets first (``api.deps.verify``), the
        account as the worker keeps it."""
        query = CountQuery(
            "helpline-cases", group_by, epsilon=f"0.2{next(serial):05d}", source="direct"
        )
        statements.clear()
        start = time.perf_counter()
        with app.state.sessions() as s, s.begin():
            token, budgets = accounts.generation_and_budgets(s, account.id)
            generation.saw(s, token)
            s.info[catalogue.BUDGETS] = (account.id, budgets)
            r = answers.answer(s, account, answers.Count(query), settings)
            remaining = None if r.remaining_micro is None else Epsilon(r.remaining_micro)
            release_json(
                r.release, r.cached, r.epsilon_charged, remaining, r.stored, in_columns=r.columns
            )
        took = time.perf_counter() - start
        times["statements: " + " ".join(statements)].append(0.0)
        return took

    with TestClient(app) as client:  # its start-up, as a worker's
        event.listen(
            app.state.sessions.kw["bind"],
            "before_cursor_execute",
            lambda *a: statements.append(a[2].split()[0]),
        )
        _tables(client, key, once, n, profile)


def _tables(
    client: Any, key: str, once: Callable[[list[str]], float], n: int, profile: bool
) -> None:
    serial = iter(range(1, 10**5))
    for label, group_by in (("216 cells", SMALL), ("4,608 cells", LARGE)):
        once(group_by)  # warm the worker's caches (code lists, key sets)
        times.clear()
        profiler = cProfile.Profile() if profile else None
        if profiler:
            profiler.enable()
        service = [once(group_by) for _ in range(n)]
        if profiler:
            profiler.disable()
        stages = {k: sum(v) * 1000 / n for k, v in times.items()}  # mean per request
        http = []
        for _ in range(n):
            body = {"dataset": "helpline-cases", "group_by": group_by}
            body["epsilon"] = float(f"0.3{next(serial):05d}")
            start = time.perf_counter()
            got = client.post("/v1/queries", json=body, headers={"Authorization": f"Bearer {key}"})
            http.append(time.perf_counter() - start)
            assert got.status_code == 200 and not got.json()["cached"]
        print(
            f"\n{label}: service {statistics.median(service) * 1000:.1f} ms, through the ASGI "
            f"app {statistics.median(http) * 1000:.1f} ms (medians of {n})"
        )
        for kinds in [k for k in stages if k.startswith("statements: ")]:
            stages.pop(kinds)
            print(f"  {len(kinds.split()) - 1} {kinds} (and COMMIT)")
        for stage, ms in sorted(stages.items(), key=lambda kv: -kv[1]):
            print(f"  {stage:<20} {ms:7.2f} ms")
        if profiler:
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
