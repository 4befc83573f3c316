"""What a GraphQL request carries through its resolvers: its context (session, caller,
settings, and the lock that lets one resolver at a time use the session), how many times it
spends, and how its errors reach the client (our code in ``extensions``; anything unexpected
masked)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import strawberry
from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    SelectionSetNode,
)
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from strawberry.extensions import MaskErrors
from strawberry.fastapi import BaseContext
from strawberry.types import ExecutionContext, Info
from strawberry.types.enum import StrawberryEnumDefinition

from api.errors import AmaanError, Busy
from schema.access import Account
from schema.db import is_busy
from schema.settings import Settings

T = TypeVar("T")


class Context(BaseContext):
    """One request's session, caller and settings.

    Resolvers are ``async`` and run their database work in the thread pool (strawberry calls a
    plain ``def`` resolver on the event loop, where a wait on the database would stall every
    request of the worker). graphql-core runs the root fields of a query concurrently, and a
    session is not thread-safe, so one lock lets one resolver at a time use the session.
    """

    def __init__(self, session: Session, principal: Account, settings: Settings) -> None:
        super().__init__()
        self.session = session
        self.principal = principal
        self.settings = settings
        self.lock = asyncio.Lock()

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        async with self.lock:
            return await run_in_threadpool(partial(work, *args))


def spending_fields(info: Info[Context, None]) -> int:
    """How many times the operation asks for ``countCases``, fragments expanded."""

    fragments = info._raw_info.fragments  # graphql-core's view: the document's fragments

    def count(selections: SelectionSetNode) -> int:
        n = 0
        for s in selections.selections:
            if isinstance(s, FieldNode):
                n += s.name.value == "countCases"
            elif isinstance(s, InlineFragmentNode):
                n += count(s.selection_set)
            elif isinstance(s, FragmentSpreadNode):
                fragment = fragments.get(s.name.value)
                n += count(fragment.selection_set) if fragment else 0
        return n

    return count(info.operation.selection_set)


class TypedErrors(MaskErrors):
    """Our errors keep their message and gain their code; request errors (syntax, validation,
    variables) keep their message; any other error raised while executing a field is masked."""

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        out = []
        for error in errors:
            original = error.original_error
            if original is not None and is_busy(original):  # a bounded wait ran out
                original = Busy("the service is busy; retry in a moment")
            if isinstance(original, AmaanError):
                out.append(
                    GraphQLError(
                        original.message,
                        error.nodes,
                        error.source,
                        error.positions,
                        error.path,
                        original_error=None,
                        extensions=original.body()["error"],
                    )
                )
            elif error.path is None:  # a request error (syntax, validation, variables)
                out.append(self._with_valid_values(error))
            else:
                out.append(self.anonymise_error(error))
        return out

    def _with_valid_values(self, error: GraphQLError) -> GraphQLError:
        """A value outside an enum (a literal or a variable) is refused by graphql-core with
        the enum's name; the answer also lists its values, as REST does (``valid``). They are
        the schema's own, declared, never the data's."""
        found = _ENUM_NAMED.search(error.message)
        definition = found and self.execution_context.schema.get_type_by_name(found[1])
        if not isinstance(definition, StrawberryEnumDefinition):
            return error
        valid = [v.name for v in definition.values]
        return GraphQLError(
            f"{error.message} Valid values: {', '.join(valid)}.",
            error.nodes,
            error.source,
            error.positions,
            error.path,
            original_error=None,
            extensions={"code": "invalid_request", "valid": valid},
        )


# graphql-core's two wordings: "Value 'X' does not exist in 'Dimension' enum." (a literal or
# a variable's value) and "Enum 'Dimension' cannot represent non-enum value: ..."
_ENUM_NAMED = re.compile(r"(?:does not exist in '|^Enum ')(\w+)'(?: enum|\s+cannot represent)")


class Schema(strawberry.Schema):
    """Logs only what went wrong: a refusal (ours, or a bounded wait that ran out) is an
    answer, not an error, and its traceback would fill the log at every refused request."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        unexpected = [
            e
            for e in errors
            if not isinstance(e.original_error, AmaanError)
            and not (e.original_error is not None and is_busy(e.original_error))
        ]
        super().process_errors(unexpected, execution_context)
