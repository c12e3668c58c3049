"""Drop the index on ``status`` alone: the fair-share claim's indexes begin with ``status`` and serve its uses.

Revision ID: 0007_no_status_index
Revises: 0006_outage
Create Date: 2026-11-29

Written by hand and frozen: it must create the same schema forever, whatever the models say later.

Why: before PostgreSQL has statistics on the table (a new database, or right after a burst of new jobs, until
autovacuum analyses it), its planner took this small index for the claim's per-user lookups and read every
pending job once per user: 270 ms a claim with 1,000 jobs of 100 users, instead of index seeks on
(status, user_id, …).
"""

from __future__ import annotations

from alembic import op

revision = "0007_no_status_index"
down_revision = "0006_outage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_jobs_status", table_name="jobs")


def downgrade() -> None:
    op.create_index("ix_jobs_status", "jobs", ["status"])
