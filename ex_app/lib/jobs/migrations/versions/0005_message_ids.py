"""Job messages kept as a message id plus parameters, so they are shown in the reader's language.

Revision ID: 0005_message_ids
Revises: 0004_last_turn
Create Date: 2026-11-29

``error_ref`` holds the JSON ``{"id": …, "params": {…}}`` of ``error_message`` (which keeps the English text for
the ops CLI, the statistics and API clients that want English); notes may now be such objects too (a JSON column
already). Text, not JSON: the reaper builds it in SQL by concatenation, on SQLite and PostgreSQL alike.

Written by hand and frozen: it must create the same schema forever, whatever the models say later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_message_ids"
down_revision = "0004_last_turn"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("error_ref", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("error_ref")
