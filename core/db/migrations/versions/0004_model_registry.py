"""the learning-to-rank model registry (at most one active model, enforced by a partial unique index)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ranking_models",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("featureset", sa.String(100), nullable=False),
        sa.Column("featureset_hash", sa.String(64), nullable=False),
        sa.Column("click_model", sa.String(50), nullable=True),
        sa.Column("data_window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("data_window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("artifact_path", sa.String(1000), nullable=False),
        sa.Column("promoted_by", sa.String(100), nullable=True),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.CheckConstraint("status IN ('candidate', 'active', 'retired', 'rejected')",
                           name="ck_ranking_models_status"),
    )
    # A unique index over the active rows only: a second 'active' row is refused by the database.
    op.create_index("ux_ranking_models_one_active", "ranking_models", ["status"], unique=True,
                    sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))


def downgrade() -> None:
    op.drop_index("ux_ranking_models_one_active", table_name="ranking_models")
    op.drop_table("ranking_models")
