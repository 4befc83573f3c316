"""Who is calling and how often, checked before anything reads the request's body.

``Checks`` runs on every request to one of the app's surfaces (``api.surfaces``: ``/v1``,
``/graphql``, ``/admin``), first thing: it looks the credential up with the surface's own
(``api.deps.lookup``), counts the request (slowapi) against its API key and the surface's
route group with the limit of the key's role (``researcher|key:12|queries``), or against the
client's address without a valid key, and refuses without one where the surface requires a
key (``/v1``: 401). Only then does the body limit read the body and the route parse it: a
malformed or huge body from anyone without a key costs a lookup, counts against the anonymous
limit and is never parsed. A limited request spends no budget. The client's address is the
connection's peer, or what a proxy in ``AMAAN_TRUSTED_PROXIES`` forwarded (uvicorn applies
that rule, see ``amaan serve``), so a changing ``X-Forwarded-For`` changes nothing. With
``redis://`` storage the counts are shared by all workers; ``memory://`` counts per worker
process.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from limits import parse_many
from limits.storage import MemoryStorage
from slowapi import Limiter
from slowapi.errors import RateLimitExceeded
from slowapi.util import get_remote_address
from slowapi.wrappers import Limit
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from api.deps import lookup, lookup_cached
from api.errors import Busy, Unauthorized
from api.surfaces import Surface, Surfaces
from schema.db import is_busy
from schema.settings import Settings

log = logging.getLogger("amaan.api")


def rate_key(request: Request) -> str:
    identity = getattr(request.state, "identity", None)
    if identity is None:
        return f"anonymous|addr:{get_remote_address(request)}"
    account, key = identity
    group: str = request.state.rate_group
    return f"{account.role}|key:{key.id}|{group}"


def _storage_unreachable(exc: BaseException) -> bool:
    """The rate-limit counters' storage (Redis) did not answer in time."""
    from redis.exceptions import RedisError

    return isinstance(exc, RedisError | TimeoutError | ConnectionError)


# The route part of every count's storage key: the name slowapi gave it when a decorated
# function counted (``key_style="endpoint"``), kept so that counts carry over in Redis.
ENDPOINT = "api.rate_limits.rate_limited"


class Counter:
    """Count a request against its key's limit, as slowapi's ``Limiter.limit`` decorator did
    on a dynamic limit (the same storage keys, counts, headers and 429), without what the
    decorator redoes on every request: ``inspect.signature`` of the limit's and the key's
    functions, parsing the limit's text, building its wrappers (a share of a cache hit's CPU).
    Each role's limits are parsed once; the settings do not change while the app runs."""

    def __init__(self, limiter: Limiter, settings: Settings) -> None:
        self.limiter = limiter
        self.settings = settings
        self.prefix = settings.rate_limit_prefix
        self.parsed: dict[str, list[Limit]] = {}

    def limits(self, role: str) -> list[Limit]:
        found = self.parsed.get(role)
        if found is None:
            items = parse_many(self.settings.rate_limit_for(role))
            found = [
                Limit(
                    limit=i,
                    key_func=rate_key,
                    scope=None,
                    per_method=False,
                    methods=None,
                    error_message=None,
                    exempt_when=None,
                    cost=1,
                    override_defaults=True,
                )
                for i in items
            ]
            self.parsed[role] = found
        return found

    def __call__(self, request: Request) -> list[tuple[str, str]]:
        """Count the request (RateLimitExceeded when over); the rate-limit headers for its
        response (Retry-After only comes with a 429)."""
        key = rate_key(request)
        args = [self.prefix, key, ENDPOINT] if self.prefix else [key, ENDPOINT]
        shown: tuple[Any, list[str]] | None = None
        for lim in self.limits(key.split("|", 1)[0]):
            if shown is None or lim.limit < shown[0]:
                shown = (lim.limit, args)
            if not self.limiter.limiter.hit(lim.limit, *args, cost=1):
                log.warning("ratelimit %s exceeded at endpoint: %s", lim.limit, ENDPOINT)
                request.state.view_rate_limit = (lim.limit, args)
                raise RateLimitExceeded(lim)
        request.state.view_rate_limit = shown
        probe = Response()
        self.limiter._inject_headers(probe, shown)  # type: ignore[arg-type]
        return [(k, v) for k, v in probe.headers.items() if k.startswith("x-ratelimit")]


# How often at most the in-process counters are swept of the expired ones (a memory bound
# only: an expired count is dropped when it is next read in any case).
SWEEP_SECONDS = 1.0


class SweptMemoryStorage(MemoryStorage):
    """``memory://`` counters as limits keeps them, swept at most once a ``SWEEP_SECONDS``.

    limits' own storage starts a new ``threading.Timer`` (10 ms) on any count that finds the
    last one ended, which is nearly every request at a few hundred a second: a thread's start
    and its wait for it are a share of a cache hit's CPU. The counts are the same: a counter
    past its expiry is dropped when read (``get``), sweeping only frees what nobody reads.
    Registered under no scheme of its own (``STORAGE_SCHEME`` unset)."""

    def __init__(self) -> None:
        super().__init__()
        self._swept_at = time.monotonic()

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 (limits' own, mangled)
        now = time.monotonic()
        if now - self._swept_at < SWEEP_SECONDS or self.timer.is_alive():
            return
        self._swept_at = now
        sweep = self._MemoryStorage__expire_events  # type: ignore[attr-defined]
        self.timer = threading.Timer(0.01, sweep)
        self.timer.daemon = True
        self.timer.start()


def rate_limiter(settings: Settings) -> tuple[Limiter, Counter]:
    """The app's limiter and what counts a request (raises when over)."""
    shared = settings.rate_limit_storage.startswith(("redis://", "rediss://"))
    # A Redis that accepts connections and never answers must not hang every request.
    timeouts: Any = {"socket_timeout": 1, "socket_connect_timeout": 1} if shared else {}
    limiter = Limiter(
        key_func=rate_key,
        storage_uri=settings.rate_limit_storage,
        storage_options=timeouts,
        headers_enabled=True,
        key_prefix=settings.rate_limit_prefix,
        key_style="endpoint",  # one count for every route; the key names the route group
    )
    # slowapi also reads RATELIMIT_* from the environment (or a .env file): one that turns
    # counting off, swallows the storage's errors or falls back to per-worker counts would
    # change every limit unseen. Amaan's limits are its own settings (AMAAN_RATE_LIMIT_*).
    if not limiter.enabled or limiter._swallow_errors or limiter._in_memory_fallback_enabled:
        raise ValueError(
            "RATELIMIT_ENABLED, RATELIMIT_SWALLOW_ERRORS and RATELIMIT_IN_MEMORY_FALLBACK* are "
            "not supported: unset them (rate limits are set by AMAAN_RATE_LIMIT_*)"
        )
    if settings.rate_limit_storage.startswith("memory://"):
        limiter._storage = SweptMemoryStorage()
        limiter._limiter = type(limiter._limiter)(limiter._storage)
    return limiter, Counter(limiter, settings)


def too_many_requests(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RateLimitExceeded)
    response = JSONResponse(
        {
            "error": {
                "code": "rate_limited",
                "message": f"too many requests: at most {exc.detail}; retry later",
            }
        },
        status_code=429,
    )
    limiter: Limiter = request.app.state.limiter
    injected: Response = limiter._inject_headers(response, request.state.view_rate_limit)
    return injected


class Checks:
    """ASGI middleware: identify, count and (where the surface says so) require a key, before
    the body."""

    def __init__(
        self,
        app: ASGIApp,
        count: Counter,
        surfaces: Surfaces,
        limit: int = 4,
        in_memory: bool = False,
    ) -> None:
        self.app = app
        self.count = count
        # Counts in this process (memory://): a key in the worker's cache is then checked and
        # counted on the event loop, with no I/O and no thread; Redis is always in a thread.
        self.in_memory = in_memory
        self.surfaces = surfaces
        self.limit = limit  # lookups at once: each holds a thread and a pooled connection
        self._slots: asyncio.Semaphore | None = None

    def _check(self, request: Request, surface: Surface) -> list[tuple[str, str]]:
        """Look up and count the request (in a worker thread: both may wait on I/O); the
        rate-limit headers for its response (Retry-After only comes with a 429)."""
        request.state.rate_group = surface.group_of(request.url.path)
        lookup(request, surface.credential)
        return self.count(request)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # none served (GraphQL's would skip every check)
            await WebSocketClose(code=1008)(scope, receive, send)
            return
        surface = self.surfaces.of(scope["path"]) if scope["type"] == "http" else None
        if surface is None or not surface.checks(scope["path"]):
            await self.app(scope, receive, send)
            return
        request = Request(scope)  # no receive: the body is not read here
        if self._slots is None:  # created inside the worker's event loop
            self._slots = asyncio.Semaphore(self.limit)
        try:
            if self.in_memory and lookup_cached(request, surface.credential):
                request.state.rate_group = surface.group_of(request.url.path)
                headers = self.count(request)
            else:
                async with self._slots:
                    headers = await run_in_threadpool(self._check, request, surface)
        except RateLimitExceeded as exc:
            await too_many_requests(request, exc)(scope, receive, send)
            return
        except Exception as exc:
            if not (is_busy(exc) or _storage_unreachable(exc)):
                raise
            log.warning("busy while checking a request: %s", type(exc).__name__)
            busy = Busy("the service is busy; retry in a moment")
            await JSONResponse(busy.body(), 503, {"Retry-After": "1"})(scope, receive, send)
            return
        if surface.refuses_unknown(request) and request.state.identity is None:
            refused = Unauthorized("a valid API key is required (Authorization: Bearer <key>)")
            response = JSONResponse(refused.body(), 401, {"WWW-Authenticate": "Bearer"})
            response.headers.update(dict(headers))
            await response(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                for name, value in headers:
                    out.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)
