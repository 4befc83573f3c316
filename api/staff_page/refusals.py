"""How the staff page shows a refusal: one route class and one exception handler.

Every route of the page is a ``PageRoute``: an ``AmaanError`` it raises (its dependencies'
too) leaves it as ``Refused``, which keeps the error's ``recorded``, so the session
dependency commits a refusal the release pipeline audited and rolls back anything else. Then
``show`` renders the page the form came from with the reason: the view the route named with
``shown_on``, read in a transaction of its own after the refused one ended, or a short
message. Without a staff session the browser goes to the sign-in page.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from api.deps import sessions
from api.errors import AmaanError, FormRefused, SignInRequired
from api.staff_page.web import Staff, page, signed_in
from schema.db import READ_ONLY

# What a refused form shows: a template and its context, read anew.
View = Callable[[Session, Request, Staff], tuple[str, dict[str, Any]]]
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
_VIEWS: dict[Callable[..., Any], View] = {}


class Refused(AmaanError):
    """An error on a page, to be shown as a page rather than as the API's JSON."""

    def __init__(self, error: AmaanError, view: View | None) -> None:
        super().__init__(error.message)
        self.error, self.view = error, view
        self.status, self.code, self.recorded = error.status, error.code, error.recorded


def shown_on(view: View) -> Callable[[Endpoint], Endpoint]:
    """Show the route's refusals on ``view`` (a short message otherwise)."""

    def register(endpoint: Endpoint) -> Endpoint:
        _VIEWS[endpoint] = view
        return endpoint

    return register


class PageRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        view = _VIEWS.get(self.endpoint)

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except Refused:
                raise
            except AmaanError as exc:
                raise Refused(exc, view) from exc

        return handle


def _message(request: Request, who: Staff | None, error: AmaanError) -> Response:
    return page(request, "message.html", who, error.status, error=error.message, back="/admin")


def show(request: Request, exc: Exception) -> Response:
    """The page's one exception handler (run in a worker thread: it may read the database)."""
    assert isinstance(exc, Refused)
    error = exc.error
    if isinstance(error, SignInRequired):
        return RedirectResponse("/admin/sign-in", status_code=303)
    if isinstance(error, FormRefused):  # not shown to whoever sent it as signed in
        return _message(request, None, error)
    who = signed_in(request)
    if exc.view is None or who is None:
        return _message(request, who, error)
    with sessions(request)() as session:
        session.connection(execution_options={READ_ONLY: True})  # it only reads
        try:
            name, context = exc.view(session, request, who)
        except AmaanError:  # what the form was about is gone: say why it was refused
            return _message(request, who, error)
    return page(request, name, who, error.status, error=error.message, **context)
