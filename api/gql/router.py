"""Mounting the GraphQL schema on FastAPI, sharing its session and principal dependencies."""

from __future__ import annotations

from typing import Any, cast

from cross_web import HTTPException
from fastapi import Request
from fastapi.responses import HTMLResponse
from strawberry.fastapi import GraphQLRouter

from api.deps import IdentityDep, SessionDep, SettingsDep, principal_of
from api.docs_pages import graphiql_page
from api.errors import RequestRefused
from api.gql.execution import Context
from api.gql.schema import schema
from api.surfaces import ide_page
from schema.access import Account


class Router(GraphQLRouter[Context, None]):
    async def run(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().run(*args, **kwargs)
        except HTTPException as exc:  # fixed texts; at most they name the client's operation
            raise RequestRefused(exc.status_code, exc.reason[:200]) from None
        except RecursionError:  # JSON or a document nested past what can be parsed
            raise RequestRefused(400, "the request is nested too deeply") from None

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return graphiql_page()  # strawberry's page loads its scripts from unpkg.com


def get_context(
    request: Request, identity: IdentityDep, session: SessionDep, settings: SettingsDep
) -> Context:
    identity = request.state.identity  # as the session's transaction verified it
    if identity is None and ide_page(request):
        return Context(session, cast(Account, None), settings)  # the page runs no resolver
    return Context(session, principal_of(identity), settings)


def graphql_router(development: bool) -> GraphQLRouter[Context, None]:
    return Router(
        schema, context_getter=get_context, graphql_ide="graphiql" if development else None
    )
