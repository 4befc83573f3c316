"""A repeated cache hit's one write: its audit entry, if nothing it relies on has changed.

``api.hits`` answers a request it has seen answered from a stored release. What it relies on
is checked in the transaction that audits it: the cache generation it was kept under
(``schema.generation``: keys, accounts, grants, datasets, versions, summaries) and the caller's
budget on the dataset, whose remainder the answer shows. On PostgreSQL that is one statement
sent in autocommit: it reads both and writes the entry only where they hold (one round trip,
no COMMIT of its own). On SQLite: the read, the entry and the commit, as the route does.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from schema import generation
from schema.repositories import accounts, audit

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


def audit_hit(session: Session, token: int, **fields: Any) -> int | None:
    """The hit's entry (``audit.entry``'s ``fields``: an account and a dataset), written and
    committed if the generation is ``token`` and the account has a budget on the dataset:
    the budget left (micro-ε). None: nothing was written (the worker's caches have followed
    a changed generation), and the session's transaction is left to be rolled back."""
    if session.get_bind().dialect.name != "postgresql":
        return _in_steps(session, token, audit.entry(session, **fields))
    # First, before any statement: the session's connection in autocommit (the key's check
    # that ``audit.entry`` may read once per process included).
    connection = session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    row = audit.entry(session, **fields)
    found = connection.execute(_HIT, row | {"token": token}).one_or_none()
    if found is None or not found[2]:
        generation.saw(session, None if found is None else found[0])
        return None
    left: int = found[1]
    return left


def _in_steps(session: Session, token: int, row: dict[str, Any]) -> int | None:
    now, budgets = accounts.generation_and_budgets(session, row["account_id"])
    budget = budgets.get(row["dataset_id"])
    if now != token or budget is None:
        generation.saw(session, now)
        return None
    audit.write(session, row)
    session.commit()
    return budget.limit_micro - budget.spent_micro
