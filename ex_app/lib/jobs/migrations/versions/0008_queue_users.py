"""Each user's pending and running jobs and last turn, kept by triggers, for a cheaper fair-share claim.

Revision ID: 0008_queue_users
Revises: 0007_no_status_index
Create Date: 2026-11-30

Written by hand and frozen: it must create the same schema forever, whatever the models say later.

Why: the claim ranked every user with work from the jobs table itself — a loose index scan to find them, then a
count of their running jobs and their latest start, each an index seek per user. On PostgreSQL with 100 users
that was 4 ms of the database's time per claim, and four worker processes could not claim more than about 90
jobs a second between them. ``queue_users`` holds those figures, one row per user, and triggers keep it right in
the same statement as every insert, status change and delete of a job (the store never writes it).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_queue_users"
down_revision = "0007_no_status_index"
branch_labels = None
depends_on = None

# The change one job row makes to its user's figures, as SQL on the trigger's OLD or NEW row.
_PENDING = "(CASE WHEN {row}.status = 'pending' THEN 1 ELSE 0 END)"
_RUNNING = "(CASE WHEN {row}.status = 'processing' THEN 1 ELSE 0 END)"
# A claim sets started_at as the job becomes processing: that is the user's turn.
_LAST_TURN = (
    "CASE WHEN NEW.status = 'processing' AND NEW.started_at IS NOT NULL"
    " AND (last_turn IS NULL OR last_turn < NEW.started_at) THEN NEW.started_at ELSE last_turn END"
)
_ADD_ROW = "INSERT INTO queue_users (user_id, pending, running) VALUES (NEW.user_id, 0, 0) ON CONFLICT DO NOTHING"
_ADD_NEW = (
    f"UPDATE queue_users SET pending = pending + {_PENDING.format(row='NEW')},"
    f" running = running + {_RUNNING.format(row='NEW')}, last_turn = {_LAST_TURN} WHERE user_id = NEW.user_id"
)
_TAKE_OLD = (
    f"UPDATE queue_users SET pending = pending - {_PENDING.format(row='OLD')},"
    f" running = running - {_RUNNING.format(row='OLD')} WHERE user_id = OLD.user_id"
)
_ACTIVE = "('pending', 'processing')"

# Per user, the figures of a set of job rows (a statement's transition table, or the jobs table itself).
_SUMS = (
    "SELECT user_id, sum(" + _PENDING.format(row="rows") + ") AS pending, sum(" + _RUNNING.format(row="rows") + ")"
    " AS running, max(CASE WHEN rows.status = 'processing' THEN rows.started_at END) AS last_turn"
    " FROM {table} AS rows GROUP BY user_id"
)
_POSTGRESQL = [
    # Inserts and deletes come in batches (a Files action of 1,000 videos, the retention cleanup): one change per
    # user and statement, not one per row, which would also leave a dead version of the user's row per job.
    f"""CREATE FUNCTION jobs_queue_users_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO queue_users AS q (user_id, pending, running, last_turn) {_SUMS.format(table="added_jobs")}
    ON CONFLICT (user_id) DO UPDATE SET pending = q.pending + EXCLUDED.pending, running = q.running + EXCLUDED.running,
        last_turn = CASE WHEN q.last_turn IS NULL OR q.last_turn < EXCLUDED.last_turn THEN EXCLUDED.last_turn
                         ELSE q.last_turn END;
    RETURN NULL;
END $$""",
    "CREATE TRIGGER jobs_queue_users_insert AFTER INSERT ON jobs REFERENCING NEW TABLE AS added_jobs"
    " FOR EACH STATEMENT EXECUTE FUNCTION jobs_queue_users_added()",
    f"""CREATE FUNCTION jobs_queue_users_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE queue_users AS q SET pending = q.pending - gone.pending, running = q.running - gone.running
    FROM ({_SUMS.format(table="removed_jobs")}) AS gone WHERE q.user_id = gone.user_id
        AND (gone.pending, gone.running) <> (0, 0);
    RETURN NULL;
END $$""",
    "CREATE TRIGGER jobs_queue_users_delete AFTER DELETE ON jobs REFERENCING OLD TABLE AS removed_jobs"
    " FOR EACH STATEMENT EXECUTE FUNCTION jobs_queue_users_removed()",
    # A status change is one job at a time (a claim, a job's end), bar a few rare sweeps: a row trigger, and only
    # when the status really changes, so lease renewals (once a second per running job) cost nothing.
    f"""CREATE FUNCTION jobs_queue_users_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status IN {_ACTIVE} THEN
        {_TAKE_OLD};
    END IF;
    {_ADD_ROW};
    {_ADD_NEW};
    RETURN NULL;
END $$""",
    "CREATE TRIGGER jobs_queue_users_update AFTER UPDATE OF status ON jobs"
    " FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION jobs_queue_users_moved()",
]
_SQLITE = [
    f"""CREATE TRIGGER jobs_queue_users_insert AFTER INSERT ON jobs BEGIN
    {_ADD_ROW};
    {_ADD_NEW};
END""",
    f"""CREATE TRIGGER jobs_queue_users_delete AFTER DELETE ON jobs WHEN OLD.status IN {_ACTIVE} BEGIN
    {_TAKE_OLD};
END""",
    f"""CREATE TRIGGER jobs_queue_users_update AFTER UPDATE OF status ON jobs WHEN OLD.status IS NOT NEW.status BEGIN
    {_TAKE_OLD.replace("WHERE", "WHERE OLD.status IN " + _ACTIVE + " AND")};
    {_ADD_ROW};
    {_ADD_NEW};
END""",
]


def upgrade() -> None:
    op.create_table(
        "queue_users",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("pending", sa.Integer(), nullable=False),
        sa.Column("running", sa.Integer(), nullable=False),
        sa.Column("last_turn", sa.DateTime(timezone=True), nullable=True),
    )
    # The figures of the jobs already there; a user's last turn is their latest job's start, as the claim had it.
    op.execute(
        "INSERT INTO queue_users (user_id, pending, running, last_turn)"
        f" SELECT user_id, sum({_PENDING.format(row='jobs')}), sum({_RUNNING.format(row='jobs')}), max(started_at)"
        " FROM jobs GROUP BY user_id"
    )
    for statement in _POSTGRESQL if op.get_bind().dialect.name == "postgresql" else _SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, function in (("insert", "added"), ("delete", "removed"), ("update", "moved")):
            op.execute(f"DROP TRIGGER jobs_queue_users_{name} ON jobs")
            op.execute(f"DROP FUNCTION jobs_queue_users_{function}()")
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER jobs_queue_users_{name}")
    op.drop_table("queue_users")
