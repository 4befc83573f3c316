"""Mounting the GraphQL schema on FastAPI, sharing its session and principal dependencies."""

from __future__ import annotations

from typing import cast

from fastapi import Request
from strawberry.fastapi import GraphQLRouter

from api.deps import IdentityDep, SessionDep, SettingsDep, principal_of
from api.gql.schema import Context, schema
from schema.access import Account


def _ide_page(request: Request) -> bool:
    """A browser opening GraphiQL (served only in development): no operation to run."""
    return (
        request.method == "GET"
        and "text/html" in request.headers.get("accept", "")
        and "query" not in request.query_params
    )


def get_context(
    request: Request, session: SessionDep, identity: IdentityDep, settings: SettingsDep
) -> Context:
    if identity is None and _ide_page(request):
        return Context(session, cast(Account, None), settings)  # the page runs no resolver
    return Context(session, principal_of(identity), settings)


def graphql_router(development: bool) -> GraphQLRouter[Context, None]:
    return GraphQLRouter(
        schema, context_getter=get_context, graphql_ide="graphiql" if development else None
    )
