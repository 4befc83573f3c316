"""``/readyz``: the warehouse answers and its schema is this code's newest.

The probe needs no key, so a flood of it must not become a flood on the database: each
worker checks at most once per ``ttl`` seconds and answers everyone else from that result.
Probes that arrive while a check runs get the last result instead of waiting for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from schema import migrate

CHECKING = "the first readiness check is still running"


class Readiness:
    def __init__(
        self,
        engine: Engine,
        head: str | None,
        ttl: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine, self.head, self.ttl, self.clock = engine, head, ttl, clock
        self.lock = threading.Lock()
        self.checked_at: float | None = None
        self.problem: str | None = None

    def check(self) -> str | None:
        """The problem that makes the service unready, or None; at most one database check
        per ``ttl`` seconds. A probe arriving while a check runs does not wait for it (a dead
        database would hold every probe's thread): it gets the last result."""
        if self.fresh():
            return self.problem
        if not self.lock.acquire(blocking=False):
            return self.problem if self.checked_at is not None else CHECKING
        try:
            if not self.fresh():
                self.problem = migrate.problem(self.engine, self.head)
                self.checked_at = self.clock()
            return self.problem
        finally:
            self.lock.release()

    def fresh(self) -> bool:
        return self.checked_at is not None and self.clock() - self.checked_at < self.ttl


def router(readiness: Readiness) -> APIRouter:
    probe = APIRouter(tags=["health"])

    @probe.get("/readyz")
    def readyz() -> JSONResponse:  # sync: the check runs in the thread pool
        """Readiness: the warehouse answers and its schema is this code's newest."""
        problem = readiness.check()
        if problem is not None:
            return JSONResponse({"status": "unavailable", "reason": problem}, status_code=503)
        return JSONResponse({"status": "ready", "revision": readiness.head})

    return probe
