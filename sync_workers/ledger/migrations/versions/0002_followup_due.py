"""an indexed "follow-up due" flag instead of the payments-checked mark in an order's data

The payments poll looked for orders whose payments were not yet found complete by reading every
linked order's row and comparing a hash kept in its JSON data: a cost that grew with every order
ever synced. The flag is indexed with the flow and direction, so the poll reads only the orders
due. Existing rows keep their meaning: an order is due unless its data holds the mark for its
current content hash; the mark leaves the data. Downgrade writes the mark back.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

INDEX = "ix_sync_records_flow_direction_followup_due"
MARK = "payments_checked_hash"  # what 0001's engine kept in an order's data
ORDERS = ("orders", "xcart_to_acumatica")
BATCH = 1000

records = sa.table(
    "sync_records",
    sa.column("id", sa.Integer),
    sa.column("flow", sa.String),
    sa.column("direction", sa.String),
    sa.column("target_key", sa.String),
    sa.column("content_hash", sa.String),
    sa.column("data", sa.JSON),
    sa.column("followup_due", sa.Boolean),
)


def _linked_orders(bind: sa.Connection) -> Iterator[Sequence[Any]]:
    """Linked orders' (id, content hash, data, due), a batch at a time, by id."""
    last = 0
    while True:
        rows = bind.execute(
            sa.select(records.c.id, records.c.content_hash, records.c.data, records.c.followup_due)
            .where(
                records.c.flow == ORDERS[0],
                records.c.direction == ORDERS[1],
                records.c.target_key.is_not(None),
                records.c.id > last,
            )
            .order_by(records.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id


def upgrade() -> None:
    # not in a batch: SQLite adds the column in place instead of copying the table
    op.add_column(
        "sync_records",
        sa.Column("followup_due", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_index(INDEX, "sync_records", ["flow", "direction", "followup_due"], unique=False)
    bind = op.get_bind()
    for rows in _linked_orders(bind):
        for row in rows:
            data = dict(row.data or {})
            checked = data.pop(MARK, None)
            due = checked is None or checked != row.content_hash
            if due or checked is not None:
                bind.execute(
                    records.update()
                    .where(records.c.id == row.id)
                    .values(followup_due=due, data=data)
                )


def downgrade() -> None:
    bind = op.get_bind()
    for rows in _linked_orders(bind):
        for row in rows:
            if not row.followup_due and row.content_hash is not None:
                data = {**(row.data or {}), MARK: row.content_hash}
                bind.execute(records.update().where(records.c.id == row.id).values(data=data))
    with op.batch_alter_table("sync_records", schema=None) as batch_op:
        batch_op.drop_index(INDEX)
        batch_op.drop_column("followup_due")
