"""Releases may keep their body in columns, compressed (``api.columns``): ``packed``. A row
stored before keeps its text ``body`` and reads as before; a new one has ``body`` empty.

Revision ID: 0011_packed
Revises: 0010
Create Date: 2026-12-02 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_packed"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("releases") as batch:
        batch.add_column(sa.Column("packed", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("releases") as batch:
        batch.drop_column("packed")
