"""Rate limits (slowapi): per API key and route group, the limit set by the caller's role.

A request with a valid key is counted against that key (``researcher|key:12|queries``), so a
changing ``X-Forwarded-For`` cannot reset it; a request without one is counted against the
client's address. Every request counts, including invalid ones, and the check runs before the
route does anything: a limited request spends no budget. With ``redis://`` storage the counts
are shared by all workers; ``memory://`` counts per worker process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from slowapi import Limiter
from slowapi.errors import RateLimitExceeded
from slowapi.util import get_remote_address

from api.deps import IdentityDep
from schema.settings import Settings

GROUPS = (
    ("/v1/admin", "admin"),
    ("/admin", "admin"),
    ("/v1/releases", "downloads"),
    ("/v1/queries", "queries"),
)


def route_group(path: str) -> str:
    for prefix, group in GROUPS:
        if path.startswith(prefix):
            return group
    return "queries" if path.startswith("/graphql") else "catalogue"


def rate_key(request: Request) -> str:
    identity = getattr(request.state, "identity", None)
    if identity is None:
        return f"anonymous|addr:{get_remote_address(request)}"
    account, key = identity
    return f"{account.role}|key:{key.id}|{route_group(request.url.path)}"


def rate_limiter(settings: Settings) -> tuple[Limiter, Callable[..., Any]]:
    """The app's limiter and the dependency that applies it."""
    limiter = Limiter(
        key_func=rate_key,
        storage_uri=settings.rate_limit_storage,
        headers_enabled=True,
        key_prefix=settings.rate_limit_prefix,
        key_style="endpoint",  # one count for every route; the key names the route group
    )

    def limit_for(key: str) -> str:
        return settings.rate_limit_for(key.split("|", 1)[0])

    @limiter.limit(limit_for)
    def rate_limited(request: Request, response: Response, identity: IdentityDep) -> None:
        return None

    return limiter, rate_limited


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
