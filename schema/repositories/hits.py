"""A repeated cache hit's one write: its audit entry, if nothing it relies on has changed.

``api.hits`` answers a request it has seen answered from a stored release. What it relies on
is checked in the transaction that audits it: the cache generation it was kept under
(``schema.generation``: keys, accounts, grants, datasets, versions, summaries) and the caller's
budget on the dataset, whose remainder the answer shows. On PostgreSQL that is one statement
sent in autocommit: it reads both and writes the entry only where they hold (one round trip,
no COMMIT of its own). On SQLite: the read, the entry and the commit, as the route does.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from schema import generation
from schema.repositories import accounts, audit
from schema.repositories.audit_verify import KEY_INFO

# The entry's columns are ``audit._INSERT_SQL``'s (tests/api/test_hits.py holds them equal).
_HIT = text("""
WITH generation AS (SELECT token FROM cache_generation WHERE id = 1),
budget AS (
    SELECT limit_micro, spent_micro FROM account_budgets
    WHERE account_id = :account_id AND dataset_id = :dataset_id
),
written AS (
    INSERT INTO audit_log (at, account_id, action, outcome, dataset_id, version_id,
                           canonical_key, epsilon_micro, detail, nonce, mac)
    SELECT :at, :account_id, :action, :outcome, :dataset_id, :version_id,
           :canonical_key, :epsilon_micro, :detail, :nonce, :mac
    FROM generation JOIN budget ON generation.token = :token
    RETURNING id
)
SELECT generation.token, budget.limit_micro - budget.spent_micro, (SELECT count(*) FROM written)
FROM generation LEFT JOIN budget ON true""")


# The same statement as the driver runs it (psycopg's placeholders).
_HIT_SQL = re.sub(r"(?<!:):(\w+)", r"%(\1)s", _HIT.text)


def audit_hit(sessions: sessionmaker[Session], token: int, **entry: Any) -> int | None:
    """The hit's entry (``audit.fields``: an account and a dataset), written and committed
    if the generation is ``token`` and the account has a budget on the dataset: the budget
    left (micro-ε). None: nothing was written (the worker's caches follow a changed
    generation)."""
    engine = sessions.kw["bind"]
    key = sessions.kw["info"][KEY_INFO]
    if engine.dialect.name != "postgresql":
        with sessions() as session:
            return _in_steps(session, token, entry)
    if not audit.checked(engine, key):  # once per process, as ``audit.entry`` would
        with sessions() as session:
            audit.check_key(session, key)
    row = audit.keyed(key, audit.fields(**entry)) | {"token": token}
    # The pooled connection itself, with SQLAlchemy's execution left out: its part was about
    # a tenth of a hit's CPU. The pool's events (timeouts, the ping when idle) still apply.
    pooled = engine.raw_connection()
    try:
        connection = pooled.driver_connection
        connection.autocommit = True
        with connection.cursor() as cursor:
            found = cursor.execute(_HIT_SQL, row).fetchone()
        connection.autocommit = False
    except BaseException:
        pooled.invalidate()  # whatever state it is in, it is not used again
        raise
    finally:
        pooled.close()
    return _left(sessions, found)


def _left(sessions: sessionmaker[Session], found: Any) -> int | None:
    if found is not None and found[2]:
        left: int = found[1]
        return left
    with sessions() as session:  # a changed generation: the worker's caches follow it
        generation.saw(session, None if found is None else found[0])
    return None


def _in_steps(session: Session, token: int, entry: dict[str, Any]) -> int | None:
    """SQLite: the read, the entry and the commit."""
    now, budgets = accounts.generation_and_budgets(session, entry["account_id"])
    budget = budgets.get(entry["dataset_id"])
    if now != token or budget is None:
        generation.saw(session, now)
        return None
    audit.write(session, audit.entry(session, **entry))
    session.commit()
    return budget.limit_micro - budget.spent_micro
