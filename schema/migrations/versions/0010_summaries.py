"""Summaries: a release of kind "summary" and what rebuilds it (design, months, scales, the
noisy slices), for free derived answers.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "summaries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("release_id", sa.Integer(), sa.ForeignKey("releases.id"), nullable=False),
        sa.Column("dataset_id", sa.Integer(), sa.ForeignKey("datasets.id"), nullable=False),
        sa.Column("version_id", sa.Integer(), sa.ForeignKey("dataset_versions.id"), nullable=False),
        sa.Column("template", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("first_month", sa.String(length=7), nullable=False),
        sa.Column("last_month", sa.String(length=7), nullable=False),
        sa.Column("design", sa.Text(), nullable=False),
        sa.Column("scales", sa.Text(), nullable=False),
        sa.Column("charged", sa.Text(), nullable=False),
        sa.Column("slices", sa.Text(), nullable=False),
        sa.Column("measured", sa.Integer(), nullable=False),
        sa.Column("extends_id", sa.Integer(), sa.ForeignKey("summaries.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("release_id"),
    )
    op.create_index("ix_summaries_dataset_id", "summaries", ["dataset_id"])
    op.create_index("ix_summaries_version_id", "summaries", ["version_id"])


def downgrade() -> None:
    op.drop_index("ix_summaries_version_id", table_name="summaries")
    op.drop_index("ix_summaries_dataset_id", table_name="summaries")
    op.drop_table("summaries")
