"""Small ASGI middlewares: a cap on requests in flight, a cap on body size, security headers.

At most ``AMAAN_MAX_IN_FLIGHT`` requests in flight per worker, never more than the worker has
database connections. Routes and dependencies are synchronous and run on a shared thread
pool. Without this cap, requests that hold threads while waiting for a pooled connection can
starve the requests that hold connections of the threads they need to finish: a deadlock
until the pool times out. And beyond a few, threads only take turns on one core (the GIL):
the wait moves from the event loop to the thread pool and the tail latency grows.
"""

from __future__ import annotations

import asyncio

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.surfaces import Surfaces


class InFlightLimit:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self._slots: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/healthz":
            await self.app(scope, receive, send)
            return
        if self._slots is None:  # created inside the worker's event loop
            self._slots = asyncio.Semaphore(self.limit)
        async with self._slots:
            await self.app(scope, receive, send)


class BodyTooLarge(Exception):
    pass


# The whole body must arrive within this. The body is read before a request takes one of the
# worker's slots (``InFlightLimit`` is inside ``BodyLimit``), so a trickle holds no slot.
BODY_SECONDS = 10.0


class BodyLimit:
    """At most ``limit`` bytes of request body, or 413 in the API's error shape.

    The body is read here, in its chunks, and stops being read as soon as it passes the limit
    (a declared ``Content-Length`` over it is refused before reading anything), so neither a
    large body nor a chunked one without a length is ever held whole. Within the limit the
    body is handed on as read. ``api.rate_limits.Checks`` runs before this: nobody's body is
    read before their key and their rate limit are checked. A body that has not arrived whole
    within ``BODY_SECONDS`` gets 408: requests in flight are capped, so one sent slowly must
    not keep its place for ever.
    """

    def __init__(self, app: ASGIApp, limit: int, seconds: float = BODY_SECONDS) -> None:
        self.app = app
        self.limit = limit
        self.seconds = seconds

    async def _read(self, scope: Scope, receive: Receive) -> list[Message]:
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > self.limit:
            raise BodyTooLarge
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return [*messages, message]
            size += len(message.get("body", b""))
            if size > self.limit:
                raise BodyTooLarge
            messages.append(message)
            if not message.get("more_body", False):
                return messages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            async with asyncio.timeout(self.seconds):
                messages = await self._read(scope, receive)
        except (BodyTooLarge, TimeoutError) as exc:
            if isinstance(exc, BodyTooLarge):
                status, code = 413, "too_large"
                message = f"the request body is larger than {self.limit} bytes"
            else:
                status, code = 408, "timeout"
                message = f"the request body did not arrive within {self.seconds:g} s"
            error = {"code": code, "message": message, "limit": self.limit}
            # The rest of the body is never read, so the connection cannot be reused.
            response = JSONResponse({"error": error}, status, {"Connection": "close"})
            await response(scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


class SecurityHeaders:
    """``nosniff`` and same-origin referrers on every response, and the headers each surface
    declares on its own (the staff page's strict CSP: ``api.staff_page``)."""

    def __init__(self, app: ASGIApp, surfaces: Surfaces) -> None:
        self.app = app
        self.surfaces = surfaces

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        surface = self.surfaces.of(scope["path"])
        declared = surface.headers if surface else ()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                # Not no-referrer: with it, browsers send "Origin: null" on same-site forms.
                headers["Referrer-Policy"] = "same-origin"
                for name, value in declared:
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)
