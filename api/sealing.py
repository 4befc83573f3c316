"""The audit sealer: every ``AMAAN_AUDIT_SEAL_INTERVAL`` seconds it chains the audit entries
committed since (``schema.repositories.audit_seal.seal_pending``).

A server worker runs one on its event loop (``start``; the work in a thread), unless its
parent is the process named by ``AMAAN_AUDIT_SEALER_PID``: ``amaan serve`` with several
workers runs the one sealer in its own, otherwise idle, process (``start_thread``), so that
the Python work of chaining a second's entries (about 50 µs each) never holds a worker's GIL
while its requests wait. However many run, the head row's lock lets one seal at a time and
the others skip. It has its own connection, so it never waits for a request's. A failed
round (the database busy or away) is logged and retried next round: an unsealed entry is
safe in its table. On shutdown it seals once more, within a bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

import anyio
from sqlalchemy import Engine

from schema.db import Timeouts, is_busy, make_engine
from schema.repositories import audit_seal
from schema.settings import Settings

log = logging.getLogger("amaan.audit")

FINAL_SEAL_SECONDS = 2.0


class Sealer:
    def __init__(self, settings: Settings) -> None:
        self.engine: Engine = make_engine(
            settings.database_url,
            timeouts=Timeouts.of(settings),
            pool_size=1,
            max_overflow=0,
            pool_timeout=30,
            pool_pre_ping=True,
        )
        self.key = settings.audit_secret()
        self.interval = settings.audit_seal_interval
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.rounds = 0  # ended, failed or not

    def seal_now(self) -> int:
        try:
            return audit_seal.seal_pending(self.engine, self.key)
        except Exception as exc:
            level = logging.WARNING if is_busy(exc) else logging.ERROR
            log.log(level, "audit sealing failed, retried next round: %s", type(exc).__name__)
            return 0
        finally:
            self.rounds += 1

    async def _run(self) -> None:
        while True:
            await anyio.to_thread.run_sync(self.seal_now, abandon_on_cancel=True)
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit sealer")

    def start_thread(self) -> None:
        """Seal from a thread of this process (no event loop needed); ``stop_thread`` ends it."""
        self._thread = threading.Thread(target=self._loop, name="audit sealer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            self.seal_now()
            if self._stopping.wait(self.interval):
                break
        self.seal_now()  # once more: after ``amaan serve``'s workers have stopped, everything

    def stop_thread(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(FINAL_SEAL_SECONDS)  # past it, the daemon thread dies with us
        self.engine.dispose()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                anyio.to_thread.run_sync(self.seal_now, abandon_on_cancel=True),
                FINAL_SEAL_SECONDS,
            )
        self.engine.dispose()
