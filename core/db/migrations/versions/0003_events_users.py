"""interactions, users, the event-id ledger, and where a search came from

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("searches") as batch:
        batch.add_column(sa.Column("source", sa.String(20), nullable=False, server_default="storefront"))
    op.create_index("ix_impressions_search_product", "impressions", ["search_id", "product_id"])
    op.create_table(
        "interactions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.String(200), nullable=True),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("search_id", sa.String(64), nullable=True),
        sa.Column("user_id", sa.String(64), nullable=True),
        sa.Column("session_id", sa.String(200), nullable=True),
        sa.Column("product_id", sa.String(512), nullable=False),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_interactions_search_product", "interactions", ["search_id", "product_id"])
    op.create_index("ix_interactions_user_id", "interactions", ["user_id"])
    op.create_index("ix_interactions_product_id", "interactions", ["product_id"])
    op.create_index("ix_interactions_occurred_at", "interactions", ["occurred_at"])
    op.create_table(
        "users",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_users_last_seen", "users", ["last_seen"])
    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.String(200), primary_key=True),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_processed_events_occurred_at", "processed_events", ["occurred_at"])


def downgrade() -> None:
    op.drop_table("processed_events")
    op.drop_table("users")
    op.drop_table("interactions")
    op.drop_index("ix_impressions_search_product", "impressions")
    with op.batch_alter_table("searches") as batch:
        batch.drop_column("source")
