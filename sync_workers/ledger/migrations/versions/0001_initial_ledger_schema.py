"""the ledger: records, their runs, cursors

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
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("trace_id", sa.String(length=64), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("source_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("followup_due", sa.Boolean(), server_default=sa.false(), nullable=False),
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
    op.create_index("ix_sync_records_flow_status", "sync_records", ["flow", "status"])
    op.create_index(
        "ix_sync_records_flow_direction_followup_due",
        "sync_records",
        ["flow", "direction", "followup_due"],
    )
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flow", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=48), nullable=False),
        sa.Column("source_id", sa.String(length=191), nullable=False),
        sa.Column("task", sa.String(length=96), nullable=False),
        sa.Column("task_id", sa.String(length=64), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("steps", sa.String(length=255), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error_class", sa.String(length=128), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("trace_id", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
    )
    op.create_index(
        "ix_sync_runs_record", "sync_runs", ["flow", "direction", "source_id", "started_at"]
    )
    op.create_index("ix_sync_runs_started_at", "sync_runs", ["started_at"])


def downgrade() -> None:
    op.drop_table("sync_runs")
    op.drop_table("sync_records")
    op.drop_table("cursors")
