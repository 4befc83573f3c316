"""At most as many requests in flight per worker as the worker has database connections.

Routes and dependencies are synchronous and run on a shared thread pool. Without this cap,
requests that hold threads while waiting for a pooled connection can starve the requests that
hold connections of the threads they need to finish: a deadlock until the pool times out.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send


class InFlightLimit:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self._slots: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._slots is None:  # created inside the worker's event loop
            self._slots = asyncio.Semaphore(self.limit)
        async with self._slots:
            await self.app(scope, receive, send)
