"""The index for the fair-share claim's round robin: each user's last turn (their latest job's start).

Revision ID: 0004_last_turn
Revises: 0003_list_version
Create Date: 2026-11-29

Written by hand and frozen: it must create the same schema forever, whatever the models say later.
"""

from __future__ import annotations

from alembic import op

revision = "0004_last_turn"
down_revision = "0003_list_version"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_user_started", "jobs", ["user_id", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_jobs_user_started", table_name="jobs")
