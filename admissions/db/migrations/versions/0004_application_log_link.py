"""applications.log_queue_id: the queued log record of the latest registration/update

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 14:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("log_queue_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_column("log_queue_id")
