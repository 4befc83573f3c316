"""The audit log keyed and sealed: entries carry a keyed MAC when written and get their place
in the chain (seq, prev_hash, hash) from the sealer shortly after.

Existing entries keep their unkeyed SHA-256 chain until the first seal under the key (run by
the server, `amaan audit verify` or any staff command): it checks that chain, gives each
entry a MAC under the key, re-seals them in their old order and appends an `audit.rekeyed`
entry naming how many there were, the old head hash and whether the old chain was intact.
Downgrading recomputes an unkeyed SHA-256 chain in the sealed order, then unsealed entries.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 00:00:00
"""

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64
HASHED = (
    "at",
    "account_id",
    "action",
    "outcome",
    "dataset_id",
    "version_id",
    "canonical_key",
    "epsilon_micro",
    "detail",
)


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("nonce", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("mac", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=True)
        batch_op.create_unique_constraint(batch_op.f("uq_audit_log_mac"), ["mac"])
        batch_op.create_unique_constraint(batch_op.f("uq_audit_log_seq"), ["seq"])
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("keyed", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("key_id", sa.String(length=64), nullable=True))


def _legacy_hash(prev: str, row: sa.Row[Any]) -> str:
    at = row.at
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    fields = {name: getattr(row, name) for name in HASHED}
    fields["at"] = at.isoformat(timespec="microseconds")
    text = prev + json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _unkeyed_chain() -> None:
    """Chain every entry again with the first schema's unkeyed SHA-256."""
    log = sa.table(
        "audit_log",
        sa.column("id", sa.Integer),
        sa.column("at", sa.DateTime(timezone=True)),
        *(sa.column(name) for name in HASHED if name != "at"),
        sa.column("seq", sa.BigInteger),
        sa.column("prev_hash", sa.String),
        sa.column("hash", sa.String),
    )
    head = sa.table(
        "audit_head",
        sa.column("id", sa.Integer),
        sa.column("last_hash", sa.String),
        sa.column("entries", sa.BigInteger),
    )
    bind = op.get_bind()
    unsealed_last = sa.case((log.c.seq.is_(None), 1), else_=0)
    rows = bind.execute(sa.select(log).order_by(unsealed_last, log.c.seq, log.c.id)).all()
    bind.execute(sa.update(log).values(hash=None))  # the unique hashes are all replaced
    prev = GENESIS
    for row in rows:
        new = _legacy_hash(prev, row)
        bind.execute(sa.update(log).where(log.c.id == row.id).values(prev_hash=prev, hash=new))
        prev = new
    bind.execute(sa.update(head).where(head.c.id == 1).values(last_hash=prev, entries=len(rows)))


def downgrade() -> None:
    _unkeyed_chain()
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.drop_column("key_id")
        batch_op.drop_column("keyed")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_log_seq"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_audit_log_mac"), type_="unique")
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column("seq")
        batch_op.drop_column("mac")
        batch_op.drop_column("nonce")
