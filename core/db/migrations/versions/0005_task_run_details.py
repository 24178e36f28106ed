"""task runs: who started them, the worker task id, progress, result counts, error, skipped runs

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task_runs") as batch:
        batch.add_column(sa.Column("task_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("started_by", sa.String(100), nullable=False, server_default="unknown"))
        batch.add_column(sa.Column("progress", sa.Float(), nullable=True))
        batch.add_column(sa.Column("result", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("error", sa.Text(), nullable=True))
        batch.create_index("ix_task_runs_task_id", ["task_id"])


def downgrade() -> None:
    with op.batch_alter_table("task_runs") as batch:
        batch.drop_index("ix_task_runs_task_id")
        for column in ("error", "result", "progress", "started_by", "task_id"):
            batch.drop_column(column)
