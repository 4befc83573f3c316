"""The app's front doors: the REST API (``/v1``), GraphQL (``/graphql``) and the staff page
(``/admin``), each with how its callers prove who they are, the rate-limit group each of its
requests counts in, and the headers its responses carry.

The app factory assembles them (``Surfaces``) where it includes their routers, and hands them
to the middlewares that run before routing (``api.rate_limits.Checks``, which identifies and
counts a request before its body is read, and ``api.limits.SecurityHeaders``): the one place
that tells a request's surface from its path is ``Surfaces.of``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.orm import Session

from api.deps import Identity, bearer

# How a surface's callers prove who they are: the account and key behind the request's
# credential, or None; never raises for a bad credential, and only reads.
Credential = Callable[[Session, Request], Identity | None]


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


@dataclass(frozen=True)
class Surface:
    prefix: str
    credential: Credential
    group: str  # the rate-limit group of its requests, unless ``groups`` says otherwise
    groups: tuple[tuple[str, str], ...] = ()  # (sub-path prefix, group), the first that fits
    key_required: bool = False  # 401 without a valid credential, before the body is read
    keyless: Callable[[Request], bool] | None = None  # requests exempt from ``key_required``
    unchecked: tuple[str, ...] = ()  # sub-paths nobody needs to be identified for
    headers: tuple[tuple[str, str], ...] = ()

    def group_of(self, path: str) -> str:
        rest = path.removeprefix(self.prefix)
        return next((g for sub, g in self.groups if rest.startswith(sub)), self.group)

    def refuses_unknown(self, request: Request) -> bool:
        """Whether this request needs a valid credential before its body is read."""
        return self.key_required and not (self.keyless is not None and self.keyless(request))

    def checks(self, path: str) -> bool:
        rest = path.removeprefix(self.prefix)
        return not any(rest.startswith(sub) for sub in self.unchecked)


class Surfaces:
    def __init__(self, *surfaces: Surface) -> None:
        self.all = surfaces

    def of(self, path: str) -> Surface | None:
        return next((s for s in self.all if _under(path, s.prefix)), None)


# Answers for one caller (and keys shown once): no shared cache may keep them.
PRIVATE = (("Cache-Control", "no-store"),)

# Partners, researchers and staff's scripts: a bearer API key, required on every route.
API = Surface(
    prefix="/v1",
    credential=bearer,
    group="catalogue",
    groups=(("/admin", "admin"), ("/releases", "downloads"), ("/queries", "queries")),
    key_required=True,
    headers=PRIVATE,
)


def ide_page(request: Request) -> bool:
    """A browser opening GraphiQL (served only in development): no operation to run."""
    return (
        request.method == "GET"
        and "text/html" in request.headers.get("accept", "")
        and "query" not in request.query_params
    )


# The GraphiQL page (development only) needs no key; every operation does, and is refused
# without one before its body is read.
GRAPHQL = Surface(
    prefix="/graphql",
    credential=bearer,
    group="queries",
    key_required=True,
    keyless=ide_page,
    headers=PRIVATE,
)
