"""initial ledger schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cursors",
        sa.Column("flow", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=48), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("flow", "direction", name=op.f("pk_cursors")),
    )
    op.create_table(
        "sync_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flow", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=48), nullable=False),
        sa.Column("source_id", sa.String(length=191), nullable=False),
        sa.Column("target_key", sa.String(length=191), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("trace_id", sa.String(length=64), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("source_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_records")),
        sa.UniqueConstraint(
            "flow", "direction", "source_id", name=op.f("uq_sync_records_flow_direction_source_id")
        ),
        sa.UniqueConstraint(
            "flow",
            "direction",
            "target_key",
            name=op.f("uq_sync_records_flow_direction_target_key"),
        ),
    )
    with op.batch_alter_table("sync_records", schema=None) as batch_op:
        batch_op.create_index("ix_sync_records_flow_status", ["flow", "status"], unique=False)

    op.create_table(
        "sync_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("trace_id", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["sync_records.id"],
            name=op.f("fk_sync_attempts_record_id_sync_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_attempts")),
    )
    with op.batch_alter_table("sync_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sync_attempts_record_id"), ["record_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sync_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_attempts_record_id"))

    op.drop_table("sync_attempts")
    with op.batch_alter_table("sync_records", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_records_flow_status")

    op.drop_table("sync_records")
    op.drop_table("cursors")
