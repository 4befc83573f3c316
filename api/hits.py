"""Repeated cache hits of ``POST /v1/queries``, answered below the framework.

A researcher's client asks the same query again and again (a notebook rerun, a dashboard's
refresh). The first answer from a stored release goes through the route as any query; what
it served is then kept per worker (``keep``), keyed by the caller's key and a digest of all
the request says (its query string, ``Content-Type``, ``Accept`` and body bytes). The same
request again, by the same key, is then answered here (``Hits``, the innermost middleware):
the key, the rate limit, the body limit and the slot in flight have been dealt with outside
as for every request, and what is left is the route's own work for a hit, in one thread hop:
check the worker's cache generation and read the caller's budget (one statement, as
``api.deps.verify``), write the same audit entry, commit, and send the same bytes.

It answers only what the route would answer identically. An entry is used only under the
cache generation it was kept under, read in the transaction that audits the hit: a revoked
key, a changed grant, a new version or summary changes the generation, and the request goes
to the route. Anything else the route reads is in the digest or checked here (a budget on
the dataset). Nothing here reads case data, and an entry exists only for a stored release
that was served: whether one exists depends on what was asked before, never on the data.
Any error before the commit undoes the transaction and hands the request to the route,
which answers it as it would have (a database error, say).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import metrics
from api.deps import bearer
from api.extracts import SizedCache
from api.routes.releases import served_body, with_head
from api.served import Released
from privacy import ZERO, Epsilon
from schema import generation
from schema.repositories import hits as hits_repo

log = logging.getLogger("amaan.api")

PATH = "/v1/queries"
KEY = "amaan_hit_key"  # request.state: this request's key in the worker's hits (``keep``)
MAX_BYTES = 64 * 1024 * 1024  # what the kept bodies may take, per worker
_HEADERS = (b"content-type", b"accept")  # the headers the route reads, besides the key


@dataclass(frozen=True)
class Kept:
    """What the route served for a request: the release's public fields and the served body
    (without this request's own fields), under the cache generation it was read under."""

    token: int
    public_id: str
    dataset_id: int
    version_id: int
    canonical_key: str
    body: bytes
    route: Any  # the route's own object, for the request log and metrics (its template)


def hits_of(scope: Scope) -> SizedCache:
    found: SizedCache = scope["app"].state.hits
    return found


def _key(scope: Scope, key_id: int, body: bytes) -> tuple[str, int, bytes]:
    digest = hashlib.blake2b(digest_size=20)
    parts = [scope.get("query_string", b"")]
    parts += [v for n, v in scope["headers"] if n in _HEADERS]  # in order, repeats included
    parts.append(body)
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return ("hit", key_id, digest.digest())


def keep(session: Session, request: Request, released: Released, layout: str) -> None:
    """Keep a stored release the route served as JSON, without a statistic, for the same
    request by the same key (under the generation this transaction read)."""
    key = request.scope.get("state", {}).get(KEY)
    token = generation.seen(session)
    if key is None or token is None or not released.cached or released.statistic is not None:
        return
    release = released.release
    body = served_body(release, released.content, None, None, layout)
    kept = Kept(
        token,
        release.public_id,
        release.dataset_id,
        release.version_id,
        release.canonical_key,
        body,
        request.scope.get("route"),
    )
    hits_of(request.scope).put(key, kept, len(body) + 512)


def _hit(sessions: sessionmaker[Session], kept: Kept, account_id: int) -> int | None:
    """Audit the hit and commit, if the generation is still the entry's and the caller has a
    budget on the dataset (``schema.repositories.hits``): the budget left (micro-ε). None:
    the route answers instead."""
    try:
        return hits_repo.audit_hit(
            sessions,
            kept.token,
            action="query",
            outcome="cache_hit",
            account_id=account_id,
            dataset_id=kept.dataset_id,
            version_id=kept.version_id,
            canonical_key=kept.canonical_key,
        )
    except Exception as exc:  # nothing written (undone, or never committed): the route
        # answers, as it would have. (A connection lost as PostgreSQL committed could leave
        # the hit audited twice; never charged.)
        log.warning("a kept hit went to the route: %s", type(exc).__name__)
        return None


class Hits:
    """ASGI middleware, innermost: a repeated hit answered in one thread hop (above)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.get("state", {})
        if (
            scope["type"] != "http"
            or scope["path"] != PATH
            or scope["method"] != "POST"
            or state.get("credential") is not bearer
            or state.get("generation") is None  # a cached identity: checked with the entry
        ):
            await self.app(scope, receive, send)
            return
        messages, body = await _read(receive)
        account, key = state["identity"]
        state[KEY] = hit_key = _key(scope, key.id, body)
        kept: Kept | None = hits_of(scope).get(hit_key)
        left = None
        if kept is not None and kept.token == state["generation"]:
            left = await run_in_threadpool(_hit, scope["app"].state.sessions, kept, account.id)
        if kept is None or left is None:

            async def replay() -> Message:
                return messages.pop(0) if messages else await receive()

            await self.app(scope, replay, send)
            return
        metrics.CACHE_HITS.labels("query").inc()
        scope["route"] = kept.route
        response = with_head(kept.public_id, True, ZERO, Epsilon(left), kept.body)
        await response(scope, receive, send)


async def _read(receive: Receive) -> tuple[list[Message], bytes]:
    """The request's messages (``api.limits.BodyLimit`` has read and bounded them) and body."""
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            break
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
    return messages, body
