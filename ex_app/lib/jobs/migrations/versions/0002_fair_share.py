"""Fair share: each job's place in its owner's queue, and the indexes the fair-share claim and the job list use.

Revision ID: 0002_fair_share
Revises: 0001
Create Date: 2026-11-29

Written by hand and frozen: it must create the same schema forever, whatever the models say later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_fair_share"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing jobs keep their order: their place in the queue is when they were created. SQLite can add a
    # NOT NULL column only with a default, and dropping that default later would mean copying the table in
    # batch mode, which loses AUTOINCREMENT; the default is never used (the store always sets queue_at).
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.add_column(
        "jobs",
        sa.Column(
            "queue_at",
            sa.DateTime(timezone=True),
            nullable=not sqlite,
            server_default=sa.text("'1970-01-01 00:00:00'") if sqlite else None,
        ),
    )
    op.execute("UPDATE jobs SET queue_at = created_at")
    if not sqlite:
        op.alter_column("jobs", "queue_at", existing_type=sa.DateTime(timezone=True), nullable=False)
    op.drop_index("ix_jobs_claim", table_name="jobs")
    op.drop_index("ix_jobs_user_id", table_name="jobs")
    op.create_index("ix_jobs_queue", "jobs", ["status", "user_id", "queue_at", "id"])
    op.create_index("ix_jobs_waiting", "jobs", ["status", "user_id", "created_at", "not_before"])
    op.create_index("ix_jobs_user_created", "jobs", ["user_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_jobs_user_created", table_name="jobs")
    op.drop_index("ix_jobs_waiting", table_name="jobs")
    op.drop_index("ix_jobs_queue", table_name="jobs")
    op.create_index("ix_jobs_user_id", "jobs", ["user_id"])
    op.create_index("ix_jobs_claim", "jobs", ["status", "not_before", "created_at"])
    op.drop_column("jobs", "queue_at")  # SQLite ≥ 3.35 drops a column in place
