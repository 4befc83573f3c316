"""Engines and sessions. Nothing is built at import time.

Every wait on the database is bounded. With ``Timeouts`` (the API and the staff commands),
each PostgreSQL connection carries ``lock_timeout``, ``statement_timeout`` and
``idle_in_transaction_session_timeout``, and SQLite waits for its writer lock at most the lock
timeout. On SQLite every transaction takes the writer lock when it begins (``BEGIN
IMMEDIATE``), so writers queue on the busy timeout: a deferred transaction that read first
and then writes cannot wait for the lock and fails at once with "database is locked".
Read-only work opts out with ``READ_ONLY``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from schema.settings import Settings

# Execution option of a read-only transaction: on SQLite it begins deferred (WAL readers
# never wait for the writer); on PostgreSQL it is a REPEATABLE READ, READ ONLY snapshot.
READ_ONLY = "amaan_read_only"
SQLITE_BUSY_TIMEOUT_MS = 30_000  # without Timeouts (the loader, migrations, tests)


CONNECT_TIMEOUT_S = 5
TCP_USER_TIMEOUT_MS = 15_000


@dataclass(frozen=True)
class Timeouts:
    lock_ms: int
    statement_ms: int
    idle_in_transaction_ms: int

    @classmethod
    def of(cls, settings: Settings) -> Timeouts:
        return cls(
            settings.lock_timeout_ms,
            settings.statement_timeout_ms,
            settings.idle_in_transaction_timeout_ms,
        )

    def postgres_connect_args(self) -> dict[str, Any]:
        """libpq's own bounds: a server that accepts connections and never answers, or a
        network that stops carrying them, must fail a request, not hang it. (The server-side
        timeouts above need a server that can still answer.)"""
        return {
            "options": self.postgres_options(),
            "connect_timeout": CONNECT_TIMEOUT_S,
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
            # Data sent and never acknowledged for this long: the connection is dead.
            "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
        }

    def postgres_options(self) -> str:
        return (
            f"-c lock_timeout={self.lock_ms} -c statement_timeout={self.statement_ms} "
            f"-c idle_in_transaction_session_timeout={self.idle_in_transaction_ms}"
        )


def _sqlite_pragmas(busy_timeout_ms: int) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, open transactions, so DDL is transactional too.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        # WAL lets readers work while a load or a release writes; NORMAL sync is safe under WAL.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB: room to sort a large load
        cursor.close()

    return on_connect


def _sqlite_begin(conn: Connection) -> None:
    read_only = conn.get_execution_options().get(READ_ONLY, False)
    conn.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")


# ``record.info`` of a pooled connection: when it was last returned to the pool (or made).
_IDLE_SINCE = "amaan_idle_since"


def ping_when_idle(engine: Engine, after_s: float) -> None:
    """Ping a pooled connection before use only when it has lain idle ``after_s`` or more,
    replacing it when the ping fails (as ``pool_pre_ping`` does on every checkout: a round
    trip on every request). A database restarted while its connections were idle, the
    usual case, is then never seen by a request. A connection that died within ``after_s``
    of its last use fails the request that takes it, as a busy database does (503 with
    ``Retry-After``: ``connection_invalidated``, ``is_busy``), and SQLAlchemy then
    replaces every connection of the pool made before the failure."""
    dialect = engine.dialect

    def made(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    def checked_in(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is not None and time.monotonic() - since < after_s:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:  # the pool then discards it and checks out another
            raise sa_exc.DisconnectionError("the pooled connection did not answer") from exc

    event.listen(engine, "connect", made)
    event.listen(engine, "checkin", checked_in)
    event.listen(engine, "checkout", checkout)


def make_engine(url: str, *, timeouts: Timeouts | None = None, **kwargs: Any) -> Engine:
    import schema.generation  # noqa: F401  (its flush listener invalidates per-worker caches)

    if timeouts is not None and url.startswith("postgresql"):
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.update(timeouts.postgres_connect_args())
        kwargs["connect_args"] = connect_args
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        busy = timeouts.lock_ms if timeouts is not None else SQLITE_BUSY_TIMEOUT_MS
        event.listen(engine, "connect", _sqlite_pragmas(busy))
        event.listen(engine, "begin", _sqlite_begin)
    return engine


@contextmanager
def read_snapshot(bind: Engine, **session_kw: Any) -> Iterator[Session]:
    """A session on one consistent, read-only snapshot of the database, rolled back at the
    end. It never takes SQLite's writer lock, so a long read does not stop writers."""
    options: dict[str, Any] = {READ_ONLY: True}
    if bind.dialect.name == "postgresql":
        options |= {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    with Session(bind.execution_options(**options), **session_kw) as session:
        try:
            yield session
        finally:
            session.rollback()


@contextmanager
def undone_on_error(session: Session, name: str) -> Iterator[None]:
    """A savepoint for a step inside a savepoint of the session's (``begin_nested``): undone
    when the step raises, so the transaction stays usable; kept otherwise, and released with
    the enclosing savepoint (PostgreSQL and SQLite release every savepoint made after the one
    released): one statement fewer than a nested transaction of its own. ``name`` is a
    constant of the caller's (never data)."""
    if not session.in_nested_transaction():
        raise RuntimeError("undone_on_error runs inside a savepoint of the session's")
    connection = session.connection()
    connection.exec_driver_sql(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        connection.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {name}")
        raise


# SQLSTATEs of a wait cut short or a transaction the server gave up on: lock_timeout,
# statement_timeout, idle_in_transaction_session_timeout, serialization failure, deadlock.
_RETRYABLE = {"55P03", "57014", "25P03", "40001", "40P01"}


def is_busy(exc: BaseException) -> bool:
    """Whether a database error means "busy, retry shortly" rather than a fault."""
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection came free in time
        return True
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if getattr(exc.orig, "sqlstate", None) in _RETRYABLE:
        return True
    import psycopg

    if isinstance(exc.orig, psycopg.OperationalError) and exc.orig.sqlstate is None:
        return True  # psycopg could not reach the server, or it stopped answering
    text = str(exc.orig).lower()
    return isinstance(exc, sa_exc.OperationalError) and (
        "database is locked" in text or "database table is locked" in text
    )
