"""``queue_users`` (what the claim ranks users by) is kept by triggers: after every kind of change to the jobs,
on both databases, it says exactly what the jobs table says."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import Connection, func, select, update

from ex_app.lib.jobs import JobStatus, JobStore, alembic_config, create_engine, upgrade_database
from ex_app.lib.jobs.models import jobs_table, queue_users_table

from .test_store import T0, new_job

pytestmark = pytest.mark.anyio

J, Q = jobs_table.c, queue_users_table.c


async def figures(store: JobStore) -> dict[str, tuple[int, int]]:
    """queue_users' (pending, running) per user, leaving out users at (0, 0)."""
    async with store.engine.connect() as conn:
        rows = await conn.execute(select(Q.user_id, Q.pending, Q.running))
        return {user: (pending, running) for user, pending, running in rows if (pending, running) != (0, 0)}


async def counted(store: JobStore) -> dict[str, tuple[int, int]]:
    """The same figures counted from the jobs themselves."""
    async with store.engine.connect() as conn:
        rows = await conn.execute(select(J.user_id, J.status, func.count()).group_by(J.user_id, J.status))
        found: dict[str, list[int]] = {}
        for user, status, n in rows:
            slot = {JobStatus.PENDING.value: 0, JobStatus.PROCESSING.value: 1}.get(status)
            if slot is not None:
                found.setdefault(user, [0, 0])[slot] += n
        return {user: (p, r) for user, (p, r) in found.items() if (p, r) != (0, 0)}


async def last_turn(store: JobStore, user: str):
    async with store.engine.connect() as conn:
        return (await conn.execute(select(Q.last_turn).where(Q.user_id == user))).scalar_one()


async def test_every_change_of_a_jobs_status_moves_its_users_figures(store: JobStore) -> None:
    steps: list[str] = []

    async def agree(step: str) -> None:
        steps.append(step)
        assert await figures(store) == await counted(store), steps

    jobs = await store.create_many([new_job(n, user_id="alice") for n in range(6)], now=T0)
    await store.create_many([new_job(9, user_id="bob")], now=T0)
    await agree("created")
    assert await figures(store) == {"alice": (6, 0), "bob": (1, 0)}

    claimed = [await store.claim("w1", 60, now=T0 + timedelta(seconds=n)) for n in range(4)]
    assert all(job is not None for job in claimed)
    await agree("claimed")
    first, second, third, fourth = (job.id for job in claimed if job is not None)
    await store.renew(first, "w1", 60, progress=50.0, now=T0 + timedelta(seconds=5))
    await agree("renewed")
    await store.complete(first, "w1", output_path="/o.mp4", output_file_id=None, now=T0 + timedelta(seconds=6))
    await agree("completed")
    await store.fail(second, "w1", "broken", now=T0 + timedelta(seconds=7))
    await agree("failed")
    await store.requeue(third, "w1", "try again", 0, now=T0 + timedelta(seconds=8))
    await agree("requeued")
    await store.release(fourth, "w1", now=T0 + timedelta(seconds=9))
    await agree("released")
    await store.cancel(jobs[5].id, now=T0 + timedelta(seconds=10))
    await agree("cancelled while pending")
    await store.retry(jobs[5].id, now=T0 + timedelta(seconds=11))
    await agree("retried")
    running = await store.claim("w2", 1, now=T0 + timedelta(seconds=12))
    assert running is not None
    await store.cancel(running.id, now=T0 + timedelta(seconds=13))
    await agree("cancelled while running")
    await store.delete(running.id)
    await agree("deleted")
    lost = await store.claim("dead", 1, now=T0 + timedelta(seconds=14))
    assert lost is not None
    await store.reap_expired(3, now=T0 + timedelta(minutes=5))
    await agree("reaped")
    await store.fail_pending("Nextcloud is gone", now=T0 + timedelta(minutes=6))
    await agree("failed while waiting")
    assert await figures(store) == {}
    await store.delete_finished_before(T0 + timedelta(days=1))
    await agree("cleaned up")
    # A user's last turn is their latest claim, even once that job is back in the queue, failed and gone.
    assert await last_turn(store, lost.user_id) == T0 + timedelta(seconds=14)
    (carol_job,) = await store.create_many([new_job(10, user_id="carol")], now=T0)
    await agree("a new user")
    assert await last_turn(store, carol_job.user_id) is None  # never had a turn


def _to(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


async def test_the_migration_counts_the_jobs_already_queued(fresh_db_url: str) -> None:
    engine = create_engine(fresh_db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_to, "0007_no_status_index")
        old = JobStore(engine)
        queued = await old.create_many([new_job(n, user_id="alice") for n in range(3)], now=T0)
        await old.create_many([new_job(7, user_id="bob")], now=T0)
        async with engine.begin() as conn:  # a job running when the schema is upgraded
            started = {"status": JobStatus.PROCESSING.value, "started_at": T0 + timedelta(minutes=1)}
            await conn.execute(update(jobs_table).where(J.id == queued[0].id).values(**started))
        await upgrade_database(engine)
        store = JobStore(engine)
        assert await figures(store) == {"alice": (2, 1), "bob": (1, 0)}
        assert await last_turn(store, "alice") == T0 + timedelta(minutes=1)
        # And from then on the triggers keep them.
        await store.claim("w1", 60, now=T0 + timedelta(minutes=2))
        assert await figures(store) == {"alice": (2, 1), "bob": (0, 1)}
    finally:
        await engine.dispose()
