"""Surviving a Nextcloud outage: a kept output per job, the worker's view of Nextcloud, an outbox.

Revision ID: 0006_outage
Revises: 0005_message_ids
Create Date: 2026-11-29

Written by hand and frozen.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_outage"
down_revision = "0005_message_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A finished encode waiting in scratch for its upload: {"path", "size", "extension", "notes", "source_etag"}.
    op.add_column("jobs", sa.Column("kept_output", sa.JSON(), nullable=True))
    # Written with each heartbeat, so the ops CLI (another process) can say since when Nextcloud is unreachable.
    op.add_column("workers", sa.Column("nextcloud_unreachable_since", sa.DateTime(timezone=True), nullable=True))
    op.add_column("workers", sa.Column("nextcloud_error", sa.Text(), nullable=True))
    # Notifications that could not be delivered (Nextcloud down), sent when it is back.
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("link", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("outbox")
    with op.batch_alter_table("workers") as batch:
        batch.drop_column("nextcloud_error")
        batch.drop_column("nextcloud_unreachable_since")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("kept_output")
