"""The vocabulary of the API's routes: a session per request, and the calling account.

One request is one transaction: the session dependency commits after the route returns and
before the response is sent (``scope="function"``), or rolls back on any error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from api.errors import AmaanError, Unauthorized
from schema.access import Account, ApiKey
from schema.db import READ_ONLY
from schema.repositories import accounts
from schema.settings import Settings


async def get_settings_dep(request: Request) -> Settings:  # async: no thread for no I/O
    settings: Settings = request.app.state.settings
    return settings


def sessions(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.sessions
    return factory


def settle(session: Session, exc: AmaanError) -> None:
    """End a transaction refused with ``exc``: a refusal the release service recorded keeps
    its audit entry (the service has already undone what the refused ask wrote), so it is
    committed; any other refusal undoes everything."""
    if exc.recorded:
        session.commit()
    else:
        session.rollback()


def get_session(request: Request) -> Iterator[Session]:
    with sessions(request)() as session:
        try:
            yield session
            session.commit()
        except AmaanError as exc:
            settle(session, exc)
            raise
        except BaseException:
            session.rollback()
            raise


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


Identity = tuple[Account, ApiKey]


def bearer(session: Session, request: Request) -> Identity | None:
    """The API's credential: ``Authorization: Bearer <key>``. The API never accepts a cookie,
    so no other site can make a browser spend for it."""
    scheme, _, raw = request.headers.get("authorization", "").partition(" ")
    return accounts.authenticate(session, raw.strip()) if scheme.lower() == "bearer" else None


def lookup(
    request: Request, credential: Callable[[Session, Request], Identity | None]
) -> Identity | None:
    """The account and key behind the request's credential, or None; never raises for a bad
    credential. Kept in ``request.state`` (with the credential that found it) for the route.
    Called by ``api.rate_limits.Checks`` before the body is read, with the credential of the
    request's surface, in its own short transactions: a read, then (at most once a minute per
    key) a touch of the key, so requests with one key never hold its row.
    """
    with sessions(request)() as session:
        session.connection(execution_options={READ_ONLY: True})
        found = credential(session, request)
        session.commit()
        if found is not None and accounts.needs_touch(found[1]):
            accounts.touch(session, found[1].id)
            session.commit()
    request.state.identity = found
    request.state.credential = credential
    return found


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


async def get_principal(identity: IdentityDep) -> Account:  # async: no thread for no I/O
    return principal_of(identity)


PrincipalDep = Annotated[Account, Depends(get_principal)]
