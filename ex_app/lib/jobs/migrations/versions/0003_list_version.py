"""The index the job list's ETag reads: each user's jobs by their last change.

Revision ID: 0003_list_version
Revises: 0002_fair_share
Create Date: 2026-11-29

Written by hand and frozen: it must create the same schema forever, whatever the models say later.
"""

from __future__ import annotations

from alembic import op

revision = "0003_list_version"
down_revision = "0002_fair_share"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # JobStore.list_version: max(updated_at) becomes one index seek and count(*) an index-only scan, instead of
    # visiting every one of that user's rows (measured on SQLite with 90,000 jobs of one user: 63 ms → 45 ms,
    # of which the count is 25 ms and the max 0.01 ms).
    op.create_index("ix_jobs_user_updated", "jobs", ["user_id", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_jobs_user_updated", table_name="jobs")
