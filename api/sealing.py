"""Each server worker's audit sealer: every ``AMAAN_AUDIT_SEAL_INTERVAL`` seconds it chains
the audit entries committed since (``schema.repositories.audit.seal_pending``).

Every worker runs one; the head row's lock lets one seal at a time and the others skip, so
the chain advances while any worker is up. It has its own connection, so it never waits for
a request's, and it works in a thread, never on the event loop. A failed round (the database
busy or away) is logged and retried next round: an unsealed entry is safe in its table. On
shutdown it seals once more, within a bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import anyio
from sqlalchemy import Engine

from schema.db import Timeouts, is_busy, make_engine
from schema.repositories import audit
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

    def seal_now(self) -> int:
        try:
            return audit.seal_pending(self.engine, self.key)
        except Exception as exc:
            level = logging.WARNING if is_busy(exc) else logging.ERROR
            log.log(level, "audit sealing failed, retried next round: %s", type(exc).__name__)
            return 0

    async def _run(self) -> None:
        while True:
            await anyio.to_thread.run_sync(self.seal_now, abandon_on_cancel=True)
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit sealer")

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
