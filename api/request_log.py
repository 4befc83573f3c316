"""One JSON line per request on the ``amaan.requests`` logger, and the request metrics.

A line holds the method, the route's template (``/v1/releases/{release_id}``, never the raw
path, which can hold ids), the status, the duration in milliseconds and, when the request
was authenticated, the account's id. Never a key, a header, a body, a query string or
anything computed from case data. ``amaan serve`` writes the lines to standard output
(``AMAAN_REQUEST_LOG=false`` turns them off); without a handler they go nowhere.
"""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import UTC, datetime
from typing import Any

from fastapi.routing import APIRoute
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import metrics
from api.surfaces import Surfaces

log = logging.getLogger("amaan.requests")

UNMATCHED = "unmatched"  # no route: the raw path is not logged either
# Refused before routing (401, 429, 413, ...): the surface's prefix, ``/v1/*``.
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}  # others: OTHER


PREFIX = re.compile(r"(/[a-z0-9_-]{1,32}){0,4}")  # the literal prefixes routers are under


def template(scope: Scope) -> str:
    """The matched route's path template, under the prefixes of the routers that hold it
    (``/v1`` + ``/releases/{release_id}``), a mount's prefix, or ``unmatched``.

    FastAPI keeps included routers nested, so the matched route knows only its own part of
    the path; the rest is the literal prefix in front of the shortest end of the path that
    the route's own pattern matches."""
    route, path = scope.get("route"), str(scope.get("path", ""))
    if isinstance(route, Mount):
        return route.path
    if not isinstance(route, APIRoute):
        return UNMATCHED
    for start in range(len(path), -1, -1):
        if (start == len(path) or path[start] == "/") and route.path_regex.fullmatch(path[start:]):
            prefix = path[:start]
            return prefix + route.path_format if PREFIX.fullmatch(prefix) else UNMATCHED
    return UNMATCHED


def account_of(scope: Scope) -> int | None:
    identity: Any = scope.get("state", {}).get("identity")
    return None if identity is None else int(identity[0].id)


class RequestLog:
    """ASGI middleware, outermost: it sees every answer, refusals before routing included."""

    def __init__(self, app: ASGIApp, surfaces: Surfaces) -> None:
        self.app = app
        self.surfaces = surfaces

    def _route(self, scope: Scope) -> str:
        found = template(scope)
        if found != UNMATCHED or "route" in scope:
            return found
        surface = self.surfaces.of(str(scope["path"]))
        return UNMATCHED if surface is None else surface.prefix + "/*"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless a response starts: an error the server answers for us

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = self._route(scope)
        method = scope["method"] if scope["method"] in METHODS else "OTHER"
        metrics.REQUESTS.labels(route, method, str(status)).inc()
        metrics.LATENCY.labels(route).observe(seconds)
        if not log.isEnabledFor(logging.INFO):
            return
        line: dict[str, Any] = {
            "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
        }
        account = account_of(scope)
        if account is not None:
            line["account"] = account
        log.info(json.dumps(line))
