"""The warehouse: datasets, versions, load batches, case counts, person contributions.

Revision ID: 0001
Revises:
Create Date: 2026-11-29 05:45:55.691681
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_counts",
        sa.Column("version_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("combo", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.CheckConstraint("cases > 0", name=op.f("ck_case_counts_cases_positive")),
        sa.PrimaryKeyConstraint("version_id", "combo", name=op.f("pk_case_counts")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("max_cases_per_person", sa.Integer(), nullable=False),
        sa.Column("max_vulnerable_groups", sa.Integer(), nullable=False),
        sa.Column("max_referrals", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "max_cases_per_person >= 1", name=op.f("ck_datasets_max_cases_positive")
        ),
        sa.CheckConstraint("max_referrals >= 1", name=op.f("ck_datasets_max_referrals_positive")),
        sa.CheckConstraint(
            "max_vulnerable_groups >= 1", name=op.f("ck_datasets_max_vulnerable_positive")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datasets")),
        sa.UniqueConstraint("slug", name=op.f("uq_datasets_slug")),
    )
    op.create_table(
        "person_contributions",
        sa.Column("dataset_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("pseudonym", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("dataset_id", "pseudonym", name=op.f("pk_person_contributions")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "dataset_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("codelist_version", sa.String(length=32), nullable=False),
        sa.Column("first_month", sa.String(length=7), nullable=False),
        sa.Column("last_month", sa.String(length=7), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_dataset_versions_dataset_id_datasets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_versions")),
        sa.UniqueConstraint("dataset_id", "number", name="uq_dataset_versions_number"),
    )
    with op.batch_alter_table("dataset_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dataset_versions_dataset_id"), ["dataset_id"], unique=False
        )

    op.create_table(
        "load_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.Column("cases_cut_by_person_bound", sa.Integer(), nullable=False),
        sa.Column("values_cut_by_multi_value_bound", sa.Integer(), nullable=False),
        sa.Column("cases_loaded", sa.Integer(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_load_batches_dataset_id_datasets")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["dataset_versions.id"],
            name=op.f("fk_load_batches_version_id_dataset_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_load_batches")),
        sa.UniqueConstraint("dataset_id", "file_sha256", name="uq_load_batches_file"),
    )
    with op.batch_alter_table("load_batches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_load_batches_dataset_id"), ["dataset_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("load_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_load_batches_dataset_id"))

    op.drop_table("load_batches")
    with op.batch_alter_table("dataset_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_versions_dataset_id"))

    op.drop_table("dataset_versions")
    op.drop_table("person_contributions")
    op.drop_table("datasets")
    op.drop_table("case_counts")
