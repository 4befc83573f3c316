"""Declared coverage, case references and consent: what each load batch declared and counted.

Existing versions keep their months, which from now on mean the declared coverage; their
batches get their version's months as declared periods, and pipeline version 1 (pseudonyms
of the old contact-key rules, no case references recorded), so the loader can refuse to mix
them with batches keyed by the new rules.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 23:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "loaded_case_refs",
        sa.Column("dataset_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("ref_hash", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("dataset_id", "ref_hash", name=op.f("pk_loaded_case_refs")),
        sqlite_with_rowid=False,
    )
    # A plain ADD COLUMN: rebuilding datasets on SQLite would drop a table that versions,
    # batches and grants refer to.
    op.add_column(
        "datasets",
        sa.Column("blank_is_consent", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    with op.batch_alter_table("load_batches", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("consent_refused", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("duplicates_skipped", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("covers_first", sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column("covers_last", sa.String(length=7), nullable=True))
        batch_op.add_column(
            sa.Column("pipeline_version", sa.Integer(), server_default="1", nullable=False)
        )
    # A batch declares what its version covered: the months that held its cases, then.
    op.execute(
        "UPDATE load_batches SET"
        " covers_first = (SELECT v.first_month FROM dataset_versions v"
        " WHERE v.id = load_batches.version_id),"
        " covers_last = (SELECT v.last_month FROM dataset_versions v"
        " WHERE v.id = load_batches.version_id)"
    )
    with op.batch_alter_table("load_batches", schema=None) as batch_op:
        batch_op.alter_column("covers_first", existing_type=sa.String(length=7), nullable=False)
        batch_op.alter_column("covers_last", existing_type=sa.String(length=7), nullable=False)
        # Only the migrated rows take defaults; the loader writes every column itself.
        batch_op.alter_column("consent_refused", existing_type=sa.Integer(), server_default=None)
        batch_op.alter_column("duplicates_skipped", existing_type=sa.Integer(), server_default=None)
        batch_op.alter_column("pipeline_version", existing_type=sa.Integer(), server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("load_batches", schema=None) as batch_op:
        batch_op.drop_column("pipeline_version")
        batch_op.drop_column("covers_last")
        batch_op.drop_column("covers_first")
        batch_op.drop_column("duplicates_skipped")
        batch_op.drop_column("consent_refused")
    op.drop_column("datasets", "blank_is_consent")
    op.drop_table("loaded_case_refs")
