"""The cache generation: one row whose random token every write that per-worker caches depend
on changes (``schema.generation``).

Revision ID: 0012
Revises: 0011_packed
Create Date: 2026-12-02 15:00:00
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011_packed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "cache_generation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(table, [{"id": 1, "token": secrets.randbits(64) - 2**63}])


def downgrade() -> None:
    op.drop_table("cache_generation")
