"""evaluation runs: the served ranking's metrics on the shop's judgments, over time

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evaluation_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("ranking", sa.String(50), nullable=False),
        sa.Column("model", sa.String(100), nullable=True),
        sa.Column("config", sa.String(50), nullable=False),
        sa.Column("tuning_version", sa.Integer(), nullable=True),
        sa.Column("split", sa.String(10), nullable=False),
        sa.Column("queries", sa.Integer(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("started_by", sa.String(100), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("evaluation_runs")
