"""``schema.db.undone_on_error``: a step's savepoint inside the session's, undone when the
step raises (the transaction stays usable, what came before is kept), released with the
enclosing savepoint otherwise, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from schema.access import CacheGeneration
from schema.db import undone_on_error


def _tokens(engine) -> list[int]:
    with Session(engine) as s:
        mine = select(CacheGeneration.token).where(CacheGeneration.id != 1)  # 1: the real row
        return list(s.scalars(mine.order_by(CacheGeneration.token)))


def _insert(s: Session, token: int) -> None:
    s.execute(text("INSERT INTO cache_generation (id, token) VALUES (:t, :t)"), {"t": token})


def test_a_failed_step_is_undone_and_the_transaction_goes_on(engine):
    with Session(engine) as s, s.begin(), s.begin_nested():
        _insert(s, 11)
        with pytest.raises(DBAPIError), undone_on_error(s, "step"):
            _insert(s, 12)
            _insert(s, 11)  # the same key again: the database refuses
        _insert(s, 13)  # usable (on PostgreSQL an error otherwise aborts the transaction)
    assert _tokens(engine) == [11, 13]


def test_a_step_that_succeeds_is_kept_and_released_with_the_enclosing_savepoint(engine):
    sent: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: sent.append(a[2].split()[0]))
    with Session(engine) as s, s.begin(), s.begin_nested():
        with undone_on_error(s, "step"):
            _insert(s, 21)
        _insert(s, 22)
    assert _tokens(engine) == [21, 22]
    assert [k for k in sent if k in ("SAVEPOINT", "RELEASE", "ROLLBACK")] == [
        "SAVEPOINT",
        "SAVEPOINT",
        "RELEASE",
    ]


def test_an_error_raised_outside_the_database_is_undone_too(engine):
    with (
        Session(engine) as s,
        s.begin(),
        s.begin_nested(),
        pytest.raises(ValueError, match="after"),
        undone_on_error(s, "step"),
    ):
        _insert(s, 31)
        raise ValueError("after the write")
    assert _tokens(engine) == []


def test_it_needs_an_enclosing_savepoint(engine):
    with Session(engine) as s, s.begin(), pytest.raises(RuntimeError), undone_on_error(s, "x"):
        pass
