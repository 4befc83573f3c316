"""The vocabulary of the API's routes: a session per request, and the calling account.

One request is one transaction, committed before the response is sent: by the route at its
end (``finish``, in its own thread) or else by the session dependency after the route returns
(``scope="function"``); rolled back on any error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Annotated, TypeVar

import anyio
from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
from starlette.concurrency import run_in_threadpool

from api.errors import AmaanError, Unauthorized
from api.transactions import settle
from schema import generation
from schema.access import Account, ApiKey
from schema.db import READ_ONLY
from schema.models import utcnow
from schema.repositories import accounts, catalogue
from schema.settings import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_settings_dep(request: Request) -> Settings:  # async: no thread for no I/O
    return get_settings(request)


def sessions(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.sessions
    return factory


async def _in_thread(work: Callable[[], object]) -> None:
    """Database work of the session's own, in the thread pool, to its end even when the
    request is cancelled (a client gone): a transaction is never left half-settled."""
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(work)


# ``session.info``: the request whose cached identity the route checks itself (``admitted``).
UNVERIFIED = "amaan_unverified"
_VERIFYING_ROUTES: set[Callable[..., object]] = set()


F = TypeVar("F", bound=Callable[..., object])


def verifies_itself(route: F) -> F:
    """Mark a synchronous route that checks a cached identity itself, first thing in its own
    thread (``admitted(request, session)``), so that the session's dependency takes no thread
    for it: a cache hit then takes one thread hop, for the check, the route and the commit."""
    _VERIFYING_ROUTES.add(route)
    return route


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's session. Async, so that only what waits on the database takes a thread:
    the check of a cached identity (``verify``) before the route, unless the route does it
    in its own thread (``verifies_itself``), and the commit after it unless the route
    committed in its own thread (``finish``: one thread hop fewer)."""
    session = sessions(request)()
    try:
        if _tag(request) is not None:  # a cached identity, to check in this transaction
            if request.scope.get("endpoint") in _VERIFYING_ROUTES:
                session.info[UNVERIFIED] = request
            else:
                await run_in_threadpool(verify, request, session)
        yield session
        if session.info.get(UNVERIFIED) is not None:  # never answer for an unchecked key
            raise RuntimeError("a route marked verifies_itself did not call admitted")
        if session.in_transaction():
            await _in_thread(session.commit)
    except AmaanError as exc:
        await _in_thread(partial(settle, session, exc))
        raise
    except BaseException:
        await _in_thread(session.rollback)
        raise
    finally:
        if session.in_transaction():  # a commit or rollback above failed
            await _in_thread(session.close)
        session.close()  # no transaction: nothing to wait on


def finish(session: Session) -> None:
    """Commit the request's transaction at the end of a route, in the route's own thread, so
    that the session's dependency has nothing left to wait on (one thread hop fewer). An
    error here is handled as any error of the route."""
    session.commit()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


Identity = tuple[Account, ApiKey]


def _digest(request: Request) -> str | None:
    scheme, _, raw = request.headers.get("authorization", "").partition(" ")
    return accounts.hash_key(raw.strip()) if scheme.lower() == "bearer" else None


def bearer(session: Session, request: Request) -> Identity | None:
    """The API's credential: ``Authorization: Bearer <key>``. The API never accepts a cookie,
    so no other site can make a browser spend for it. What is found is kept per worker."""
    digest = _digest(request)
    found = None if digest is None else accounts.find_key(session, digest)
    if digest is None or found is None:
        return None
    generation.put(session, ("key", digest), found)
    return accounts.valid(found, digest)


def _cached(request: Request) -> Identity | None:
    """A valid identity from the worker's cache, before any database read: the route's
    transaction checks its tag (``verify``) before anything is answered. An invalid cached
    key is looked up again (its account may have been reactivated since)."""
    digest = _digest(request)
    if digest is None:
        return None
    cache: generation.WorkerCache = request.app.state.cache
    found, tag = cache.peek(("key", digest))
    identity = None if found is None or tag is None else accounts.valid(found, digest)
    if identity is not None:
        request.state.generation = tag
    return identity


def lookup(
    request: Request, credential: Callable[[Session, Request], Identity | None]
) -> Identity | None:
    """The account and key behind the request's credential, or None; never raises for a bad
    credential. Kept in ``request.state`` (with the credential that found it) for the route.
    Called by ``api.rate_limits.Checks`` before the body is read, with the credential of the
    request's surface, in its own short transactions: a read, then (at most once a minute per
    key) a touch of the key, so requests with one key never hold its row. A bearer key found
    in the worker's cache costs no read here (``verify`` checks it in the route's
    transaction).
    """
    request.state.generation = None
    found = _cached(request) if credential is bearer else None
    if found is None:
        with sessions(request)() as session:
            session.connection(execution_options={READ_ONLY: True})
            found = credential(session, request)
            session.commit()
    if found is not None and accounts.needs_touch(found[1]):
        now = utcnow()
        with sessions(request)() as session:
            accounts.touch(session, found[1].id, now)
            session.commit()
        set_committed_value(found[1], "last_used_at", now)  # the cached key too
    request.state.identity = found
    request.state.credential = credential
    return found


def lookup_cached(
    request: Request, credential: Callable[[Session, Request], Identity | None]
) -> bool:
    """``lookup`` with no I/O at all, when the worker's cache holds a valid bearer key that
    needs no touch (True); False: call ``lookup`` (in a thread)."""
    request.state.generation = None
    found = _cached(request) if credential is bearer else None
    if found is None or accounts.needs_touch(found[1]):
        request.state.generation = None
        return False
    request.state.identity = found
    request.state.credential = credential
    return True


def end_read(session: Session) -> None:
    """End a transaction that only read (the credential's check) before work in transactions
    of its own that must not wait on it: on SQLite it holds the writer lock."""
    if session.in_transaction():
        session.commit()


def _tag(request: Request) -> int | None:
    """The cache generation a cached identity was taken under (``_cached``), or None."""
    tag: int | None = request.scope.get("state", {}).get("generation")
    return tag


def verify(request: Request, session: Session) -> None:
    """In the route's transaction, first: an identity taken from the worker's cache is
    checked against the cache generation, and looked up again when anything changed (a
    revoked key or suspended account is then refused by ``principal_of``). The account's
    budgets are read in the same statement (``BUDGETS``)."""
    tag = _tag(request)
    if tag is None:
        return
    account = request.state.identity[0]
    token, budgets = accounts.generation_and_budgets(session, account.id)
    generation.saw(session, token)
    if token == tag:
        session.info[catalogue.BUDGETS] = (
            account.id,
            budgets,
        )  # read: no second statement for them
        return
    request.state.generation = None
    request.state.identity = bearer(session, request)


async def identify(request: Request) -> Identity | None:
    """The caller's identity by bearer key, as ``Checks`` found it (looked up here when it
    did not, or found it by another surface's credential)."""
    if request.scope.get("state", {}).get("credential") is not bearer:
        return await run_in_threadpool(lookup, request, bearer)
    identity: Identity | None = request.state.identity
    return identity


IdentityDep = Annotated[Identity | None, Depends(identify)]


def principal_of(identity: Identity | None) -> Account:
    if identity is None:  # missing, wrong, revoked or expired: one answer for all
        raise Unauthorized("a valid API key is required (Authorization: Bearer <key>)")
    return identity[0]


async def get_principal(  # async: no thread for no I/O
    request: Request, identity: IdentityDep, session: SessionDep
) -> Account:
    """The caller, once the route's transaction has verified a cached identity; kept in
    ``request.state`` for ``admitted``."""
    verified: Identity | None = request.state.identity
    account = principal_of(verified)
    request.state.principal = account
    return account


PrincipalDep = Annotated[Account, Depends(get_principal)]


def admitted(request: Request, session: Session | None = None) -> Account:
    """The caller that the data router's own ``get_principal`` admitted (it runs before every
    ``/v1`` route). For the route of cache hits (``POST /v1/queries``): naming
    ``PrincipalDep`` again makes FastAPI walk get_principal's dependencies a second time on
    every request (cached, but each one solved), and that walk is a share of a hit's CPU.
    Without get_principal before it (a route outside that router), the request is refused.

    In a route that ``verifies_itself``, with its ``session``: the cached identity is checked
    here first, in the route's transaction and thread (``verify``), before anything else the
    route does; the caller is then the identity it verified (a revoked key is refused)."""
    if session is not None and session.info.pop(UNVERIFIED, None) is not None:
        verify(request, session)
        request.state.principal = principal_of(request.state.identity)
    account: Account | None = request.scope.get("state", {}).get("principal")
    if account is None:
        raise Unauthorized("a valid API key is required (Authorization: Bearer <key>)")
    return account
