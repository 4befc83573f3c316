"""Per-worker caches of what changes rarely, and the one row that invalidates them everywhere.

API keys with their accounts, a dataset with its grant and version, summaries of a version
and stored releases are kept in each worker process (a ``WorkerCache`` per app, which its
sessions carry in ``session.info``; sessions without one cache nothing), each entry tagged
with the ``cache_generation`` token it was read under. Every ORM flush that adds, changes or deletes
an account, key, grant, dataset, version or summary sets a new random token in the same
transaction, as it commits (``_bump_on_flush`` and ``_bump_on_commit``, registered for every
session of the process), so the CLI,
the admin REST routes, the staff page, the ETL loads and the tests all invalidate without
knowing it. The token is random, not a counter: tests TRUNCATE the tables and reuse database
URLs, and a truncated table has no row, which means "no cache".

The rule that makes it exact: **a cached entry is used only in a transaction that has read
the token and found the entry's tag** (``seen`` records what the transaction read). A reader
reads the token in the statement that reads what it caches, or before it, so an entry is
never older than its tag: a write committed in between changes the token, and the entry is
dropped at the next read. Random tokens repeat with probability 2^-64.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.sql.selectable import ScalarSelect

from schema.access import Account, ApiKey, CacheGeneration, Grant, StoredSummary
from schema.models import Dataset, DatasetVersion

WATCHED = (Account, ApiKey, Grant, Dataset, DatasetVersion, StoredSummary)
SEEN = "amaan_cache_generation"  # session.info: the token this transaction read
WROTE = "amaan_cache_wrote"  # session.info: this transaction wrote what the caches hold
CACHE_INFO = "amaan_worker_cache"  # session.info (from its sessionmaker): the app's cache
MAX_ENTRIES = 4096


def token_column() -> ScalarSelect[int]:
    """The token as a column of another statement (NULL without the row)."""
    return select(CacheGeneration.token).where(CacheGeneration.id == 1).scalar_subquery()


def read(session: Session) -> int | None:
    """Read the token in this transaction (one statement) and remember it (``seen``)."""
    found = session.scalar(select(CacheGeneration.token).where(CacheGeneration.id == 1))
    return saw(session, found)


def saw(session: Session, token: int | None) -> int | None:
    """Record the token this transaction read, and bring the worker's caches to it. A
    transaction that wrote what the caches hold records none: what it reads may not commit,
    and its new token is set only as it commits."""
    if session.info.get(WROTE):
        return token
    session.info[SEEN] = token
    cache = cache_of(session)
    if cache is not None:
        cache.sync(token)
    return token


def cache_of(session: Session) -> WorkerCache | None:
    cache: WorkerCache | None = session.info.get(CACHE_INFO)
    return cache


def get(session: Session, key: Hashable) -> Any:
    """The entry, if this transaction read the token it was cached under."""
    cache = cache_of(session)
    return None if cache is None else cache.get(session, key)


def put(session: Session, key: Hashable, value: Any) -> Any:
    """Keep ``value`` (read in this transaction after its token) where the session caches.
    The ORM objects in it (itself, or in a tuple or list) leave the session first: a
    rollback must not expire what other sessions share; they are read, never changed."""
    cache = cache_of(session)
    if cache is None:
        return value
    _detach(session, value)
    return cache.put(session, key, value)


def _detach(session: Session, value: Any) -> None:
    if isinstance(value, tuple | list):
        for item in value:
            _detach(session, item)
    elif hasattr(value, "_sa_instance_state") and value in session:
        session.expunge(value)


def seen(session: Session) -> int | None:
    """The token this transaction read (None: not read, or no row)."""
    token: int | None = session.info.get(SEEN)
    return token


def bump(session: Session) -> None:
    """A new token, in the session's transaction (the row is made if it is missing)."""
    token = secrets.randbits(64) - 2**63
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.connection().execute(  # on the connection, not the ORM: this runs inside a flush
        insert(CacheGeneration)
        .values(id=1, token=token)
        .on_conflict_do_update(index_elements=["id"], set_={"token": token})
    )
    session.info.pop(SEEN, None)  # what this transaction read before is no longer current


@event.listens_for(Session, "before_flush")
def _bump_on_flush(session: Session, _: UOWTransaction, __: Any) -> None:
    """A watched write: this transaction stops using the caches at once, and its token is
    set when it commits (``_bump_on_commit``), so the one row is locked for the commit only,
    not for the rest of a long transaction (an ETL load), while every revocation waits."""
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, WATCHED) for obj in changed):
        session.info[WROTE] = True
        session.info.pop(SEEN, None)


@event.listens_for(Session, "before_commit")
def _bump_on_commit(session: Session) -> None:
    session.flush()  # what is still pending is written first (and marks WROTE)
    if session.info.pop(WROTE, False):
        bump(session)  # in the transaction that commits the write: atomic with it


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: Any) -> None:
    """A token read belongs to its transaction: the next one reads its own."""
    if transaction.parent is None:
        session.info.pop(SEEN, None)
        session.info.pop(WROTE, None)


class WorkerCache:
    """Entries of one token at a time, least recently used first out; thread-safe."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self.token: int | None = None
        self.items: OrderedDict[Hashable, Any] = OrderedDict()
        self.lock = threading.Lock()

    def sync(self, token: int | None) -> None:
        """A token read from the database: entries of any other token are dropped."""
        with self.lock:
            if token != self.token or token is None:
                self.items.clear()
                self.token = token

    def get(self, session: Session, key: Hashable) -> Any:
        """The entry, if this transaction read the token it was cached under."""
        token = seen(session)
        with self.lock:
            if token is None or token != self.token:
                return None
            found = self.items.get(key)
            if found is not None:
                self.items.move_to_end(key)
            return found

    def peek(self, key: Hashable) -> tuple[Any, int | None]:
        """The entry and its tag, before any token is read in the transaction (to be
        checked with ``valid`` before anything is answered from it)."""
        with self.lock:
            return self.items.get(key), self.token

    def put(self, session: Session, key: Hashable, value: Any) -> Any:
        """Keep ``value`` if it was read in a transaction that read the current token."""
        token = seen(session)
        with self.lock:
            if token is not None and token == self.token:
                self.items[key] = value
                self.items.move_to_end(key)
                while len(self.items) > self.max_entries:
                    self.items.popitem(last=False)
        return value
