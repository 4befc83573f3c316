"""The vocabulary of the API's routes: a session per request, and the calling account.

One request is one transaction: the session dependency commits after the route returns and
before the response is sent (``scope="function"``), or rolls back on any error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from api.errors import AmaanError
from schema.access import Account, ApiKey
from schema.repositories import accounts
from schema.repositories import sessions as admin_sessions
from schema.settings import Settings


class Unauthorized(AmaanError):
    status = 401
    code = "unauthorized"


async def get_settings_dep(request: Request) -> Settings:  # async: no thread for no I/O
    settings: Settings = request.app.state.settings
    return settings


def sessions(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.sessions
    return factory


def get_session(request: Request) -> Iterator[Session]:
    with sessions(request)() as session:
        try:
            yield session
            session.commit()
        except AmaanError as exc:
            # A refusal the release service recorded keeps its audit entry (the service has
            # already undone what the refused query wrote); any other error undoes everything.
            if exc.recorded:
                session.commit()
            else:
                session.rollback()
            raise
        except BaseException:
            session.rollback()
            raise


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


ADMIN_COOKIE = "amaan_admin"


def identify(request: Request, session: SessionDep) -> tuple[Account, ApiKey] | None:
    """The account and key behind the request's bearer key, or None; never raises.

    On the admin page (``/admin``) the credential is the session cookie instead, and only
    there: the API never accepts a cookie, so no other site can make a browser spend for it.
    """
    if request.url.path == "/admin" or request.url.path.startswith("/admin/"):
        signed_in = admin_sessions.find(session, request.cookies.get(ADMIN_COOKIE, ""))
        identity = (signed_in[1], signed_in[2]) if signed_in else None
        if identity is not None and accounts.needs_touch(identity[1]):
            accounts.touch(session, identity[1].id)
            session.commit()
        request.state.admin_session = signed_in[0] if signed_in else None
        request.state.identity = identity
        return identity
    header = request.headers.get("authorization", "")
    scheme, _, raw = header.partition(" ")
    found = accounts.authenticate(session, raw.strip()) if scheme.lower() == "bearer" else None
    if found is not None and accounts.needs_touch(found[1]):
        # Its own short transaction on this connection (which has only read so far), so that
        # concurrent requests with one key never hold its row for a whole request.
        accounts.touch(session, found[1].id)
        session.commit()
    request.state.identity = found
    return found


IdentityDep = Annotated[tuple[Account, ApiKey] | None, Depends(identify)]


def principal_of(identity: tuple[Account, ApiKey] | None) -> Account:
    if identity is None:  # missing, wrong, revoked or expired: one answer for all
        raise Unauthorized("a valid API key is required (Authorization: Bearer <key>)")
    return identity[0]


async def get_principal(identity: IdentityDep) -> Account:  # async: no thread for no I/O
    return principal_of(identity)


PrincipalDep = Annotated[Account, Depends(get_principal)]
