"""Mounting the GraphQL schema on FastAPI, sharing its session and principal dependencies."""

from __future__ import annotations

from strawberry.fastapi import GraphQLRouter

from api.deps import PrincipalDep, SessionDep, SettingsDep
from api.gql.schema import Context, schema


def get_context(session: SessionDep, principal: PrincipalDep, settings: SettingsDep) -> Context:
    return Context(session, principal, settings)


def graphql_router(development: bool) -> GraphQLRouter[Context, None]:
    return GraphQLRouter(
        schema, context_getter=get_context, graphql_ide="graphiql" if development else None
    )
