"""Pagination of lists, the same in REST and GraphQL: a ``limit``, an opaque ``cursor``, and a
``next`` cursor (null on the last page).

A cursor is the URL-safe base64 of where the last page ended (a list's part and the id of its
last row), read by the repositories as keyset pagination: no offset, so a page is stable as
rows are added. It names only ids of rows the caller was shown, never anything computed from
case data. Both parameters are strictly parsed, with errors naming the field.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from api.errors import InvalidQuery

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
LIMITS = f"a whole number from 1 to {MAX_LIMIT}"
MAX_CURSOR = 64
_POSITION = re.compile(r"([a-z]{1,12})\.([1-9][0-9]{0,17})", re.ASCII)


@dataclass(frozen=True)
class Position:
    """Where a page ended: the part of the list (such as publications, then queries) and the id
    of its last row."""

    part: str
    id: int


@dataclass(frozen=True)
class Page:
    limit: int
    after: Position | None  # None: the first page


def encode(position: Position) -> str:
    return base64.urlsafe_b64encode(f"{position.part}.{position.id}".encode()).decode()


def _position(cursor: str, parts: tuple[str, ...]) -> Position:
    wrong = InvalidQuery("cursor: pass the `next` of the previous page unchanged", field="cursor")
    if not cursor.isascii() or len(cursor) > MAX_CURSOR:
        raise wrong
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise wrong from None
    found = _POSITION.fullmatch(text)
    if (
        found is None
        or found[1] not in parts
        or encode(Position(found[1], int(found[2]))) != cursor
    ):
        raise wrong
    return Position(found[1], int(found[2]))


def parse(limit: int | str | None, cursor: str | None, parts: tuple[str, ...]) -> Page:
    """A page request: ``limit`` (default 100) and ``cursor`` (a ``next``, or None)."""
    if limit is None:
        number = DEFAULT_LIMIT
    elif isinstance(limit, int) and not isinstance(limit, bool):
        number = limit
    elif isinstance(limit, str) and re.fullmatch(r"[0-9]{1,4}", limit, re.ASCII):
        number = int(limit)
    else:
        number = 0
    if not 1 <= number <= MAX_LIMIT:
        raise InvalidQuery(f"limit must be {LIMITS}", field="limit", valid=LIMITS)
    return Page(number, None if cursor is None else _position(cursor, parts))


def next_cursor(positions: list[Position], page: Page) -> str | None:
    """The ``next`` of a page read with ``limit + 1`` rows: the last shown row, if more follow."""
    return encode(positions[page.limit - 1]) if len(positions) > page.limit else None
