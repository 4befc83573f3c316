"""Publications: named extracts published to partners, and an index to count downloads.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 03:11:58.339717
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "publications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("all_partners", sa.Boolean(), nullable=False),
        sa.Column("rounding", sa.Integer(), nullable=False),
        sa.Column("margins", sa.Boolean(), nullable=False),
        sa.Column("published_by", sa.Integer(), nullable=False),
        sa.Column("replaces_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("rounding >= 1", name=op.f("ck_publications_rounding_positive")),
        sa.ForeignKeyConstraint(
            ["published_by"], ["accounts.id"], name=op.f("fk_publications_published_by_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["release_id"], ["releases.id"], name=op.f("fk_publications_release_id_releases")
        ),
        sa.ForeignKeyConstraint(
            ["replaces_id"],
            ["publications.id"],
            name=op.f("fk_publications_replaces_id_publications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publications")),
    )
    with op.batch_alter_table("publications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_publications_release_id"), ["release_id"], unique=False
        )

    op.create_table(
        "publication_audience",
        sa.Column("publication_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_publication_audience_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["publication_id"],
            ["publications.id"],
            name=op.f("fk_publication_audience_publication_id_publications"),
        ),
        sa.PrimaryKeyConstraint(
            "publication_id", "account_id", name=op.f("pk_publication_audience")
        ),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_log_canonical_key"), ["canonical_key"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_canonical_key"))

    op.drop_table("publication_audience")
    with op.batch_alter_table("publications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_publications_release_id"))

    op.drop_table("publications")
