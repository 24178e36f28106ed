"""chunked embedding rebuilds: one row per rebuild and per chunk, so workers share and resume the work

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rebuild_jobs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("alias", sa.String(200), nullable=False, index=True),
        sa.Column("source_index", sa.String(300), nullable=False),
        sa.Column("target_index", sa.String(300), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("planned", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_by", sa.String(100), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('running', 'done', 'failed')", name="ck_rebuild_jobs_status"),
    )
    op.create_index("ux_rebuild_jobs_one_running", "rebuild_jobs", ["alias"], unique=True,
                    sqlite_where=sa.text("status = 'running'"), postgresql_where=sa.text("status = 'running'"))
    op.create_table(
        "rebuild_chunks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("job_id", sa.Integer(), sa.ForeignKey("rebuild_jobs.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("first_id", sa.String(512), nullable=False),
        sa.Column("last_id", sa.String(512), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("documents", sa.Integer(), nullable=True),
        sa.Column("encoded", sa.Integer(), nullable=True),
        sa.Column("from_cache", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("job_id", "number", name="uq_rebuild_chunks_job_number"),
    )


def downgrade() -> None:
    op.drop_table("rebuild_chunks")
    op.drop_index("ux_rebuild_jobs_one_running", table_name="rebuild_jobs")
    op.drop_table("rebuild_jobs")
