"""searches and impressions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "searches",
        sa.Column("search_id", sa.String(64), primary_key=True),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("normalized_query", sa.Text(), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=True),
        sa.Column("session_id", sa.String(200), nullable=True),
        sa.Column("config", sa.String(50), nullable=False),
        sa.Column("model_version", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_searches_normalized_query", "searches", ["normalized_query"])
    op.create_index("ix_searches_user_id", "searches", ["user_id"])
    op.create_index("ix_searches_created_at", "searches", ["created_at"])
    op.create_table(
        "impressions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("search_id", sa.String(64), sa.ForeignKey("searches.search_id", ondelete="CASCADE"), nullable=False),
        sa.Column("product_id", sa.String(512), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
    )
    op.create_index("ix_impressions_search_id", "impressions", ["search_id"])


def downgrade() -> None:
    op.drop_table("impressions")
    op.drop_table("searches")
