"""impressions.explored: whether a product was shown in an exploration slot rather than by the ranking

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A server default, so the rows already stored (none explored before this column) need no rewrite.
    with op.batch_alter_table("impressions") as batch:
        batch.add_column(sa.Column("explored", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("impressions") as batch:
        batch.drop_column("explored")
