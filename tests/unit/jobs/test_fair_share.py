"""Fair share: which job a claim takes when several users wait, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import anyio
import pytest
from sqlalchemy import select

from ex_app.lib.jobs import JobRecord, JobStatus, JobStore, create_engine
from ex_app.lib.jobs.models import jobs_table
from ex_app.lib.jobs.store import SMALL_JOB_HEAD_START

from .test_store import T0, new_job

pytestmark = pytest.mark.anyio

LATER = T0 + timedelta(hours=3)  # "now" for the claims: every job below may run


async def queue(store: JobStore, user: str, count: int, *, at: timedelta, small: bool = False) -> list[JobRecord]:
    """``count`` jobs of ``user`` created ``at`` after T0, one second apart."""
    made = []
    for n in range(count):
        made += await store.create_many([new_job(n, user_id=user, small=small)], now=T0 + at + timedelta(seconds=n))
    return made


async def claim_all(store: JobStore, *, cap: int | None = None, now=LATER) -> list[JobRecord]:
    """Claim until nothing is left, without finishing anything."""
    claimed = []
    while (job := await store.claim("w1", 60, max_running_per_user=cap, now=now)) is not None:
        claimed.append(job)
    return claimed


async def test_a_user_with_nothing_running_goes_before_one_with_a_long_batch(store: JobStore) -> None:
    alice = await queue(store, "alice", 40, at=timedelta(0))
    (bob,) = await queue(store, "bob", 1, at=timedelta(minutes=5))
    first = await store.claim("w1", 60, now=LATER)
    second = await store.claim("w2", 60, now=LATER)
    # Alice waited longest, so she starts; then she has one running and Bob none, so Bob is next.
    assert first is not None and first.id == alice[0].id
    assert second is not None and second.id == bob.id


async def test_claims_take_turns_between_users_by_running_count_then_oldest_wait(store: JobStore) -> None:
    await queue(store, "alice", 3, at=timedelta(0))
    await queue(store, "bob", 3, at=timedelta(minutes=1))
    await queue(store, "carol", 1, at=timedelta(minutes=2))
    order = [job.user_id for job in await claim_all(store)]
    # Round 1 (nobody running): oldest wait first. Round 2 (alice, bob, carol at 1): carol has nothing left.
    assert order == ["alice", "bob", "carol", "alice", "bob", "alice", "bob"]


async def test_equal_running_counts_go_to_the_user_whose_oldest_pending_job_is_oldest(store: JobStore) -> None:
    # Both users have one job running; Bob's remaining job is older than Alice's remaining ones.
    (bob_running, bob_waiting) = await queue(store, "bob", 2, at=timedelta(0))
    alice = await queue(store, "alice", 2, at=timedelta(minutes=1))
    for expected in (bob_running, alice[0]):
        claimed = await store.claim("w1", 60, now=LATER)
        assert claimed is not None and claimed.id == expected.id
    third = await store.claim("w1", 60, now=LATER)
    assert third is not None and third.id == bob_waiting.id


async def test_a_tie_in_running_count_and_wait_goes_by_user_id(store: JobStore) -> None:
    for user in ("zoe", "adam", "mia"):
        await store.create_many([new_job(user_id=user)], now=T0)
    assert [job.user_id for job in await claim_all(store)] == ["adam", "mia", "zoe"]


async def test_a_job_waiting_out_a_retry_delay_neither_runs_nor_counts_as_waiting(store: JobStore) -> None:
    (old,) = await queue(store, "alice", 1, at=timedelta(0))
    claimed = await store.claim("w1", 60, now=LATER)
    assert claimed is not None and claimed.id == old.id
    await store.requeue(old.id, "w1", "Nextcloud answered 503", 600, now=LATER)
    (newer,) = await queue(store, "alice", 1, at=timedelta(minutes=2))
    (bob,) = await queue(store, "bob", 1, at=timedelta(minutes=1))
    # Alice's delayed job is the oldest of all, but it may not run yet: Bob's wait is the longer one that counts.
    assert [job.id for job in await claim_all(store)] == [bob.id, newer.id]
    assert [job.id for job in await claim_all(store, now=LATER + timedelta(seconds=600))] == [old.id]


async def test_no_user_runs_more_than_the_cap_while_others_are_free_to_run(store: JobStore) -> None:
    await queue(store, "alice", 5, at=timedelta(0))
    await queue(store, "bob", 1, at=timedelta(minutes=1))
    claimed = await claim_all(store, cap=2)
    assert Counter(job.user_id for job in claimed) == {"alice": 2, "bob": 1}
    # A place frees up when one of Alice's jobs ends, and only then.
    first = claimed[0]
    assert first.user_id == "alice"
    await store.complete(first.id, "w1", output_path="/out.mp4", output_file_id=None, now=LATER)
    again = await claim_all(store, cap=2)
    assert [job.user_id for job in again] == ["alice"]
    # Without a cap the rest of Alice's queue runs.
    assert [job.user_id for job in await claim_all(store)] == ["alice", "alice"]


async def test_the_cap_holds_for_claimers_racing_on_separate_engines(db_url: str) -> None:
    setup = await JobStore.open(db_url)
    await setup.create_many([new_job(n, user_id=user) for n in range(30) for user in ("alice", "bob", "carol")])
    stores = [JobStore(create_engine(db_url)) for _ in range(8)]
    claimers: set[str] = set()

    async def claim_loop(store: JobStore, worker_id: str) -> None:
        while await store.claim(worker_id, 30, max_running_per_user=3) is not None:
            claimers.add(worker_id)

    try:
        async with anyio.create_task_group() as tg:
            for n, store in enumerate(stores):
                tg.start_soon(claim_loop, store, f"w{n}")
        async with setup.engine.connect() as conn:
            processing = jobs_table.c.status == JobStatus.PROCESSING.value
            result = await conn.execute(select(jobs_table.c.user_id).where(processing))
            running = Counter(result.scalars())
        assert running == {"alice": 3, "bob": 3, "carol": 3}
        assert len(claimers) > 1, "the claimers did not overlap; the test proved nothing"
    finally:
        for store in stores:
            await store.close()
        await setup.close()


async def test_the_cap_holds_while_racing_claimers_finish_jobs_and_claim_again(db_url: str) -> None:
    setup = await JobStore.open(db_url)
    jobs = await setup.create_many([new_job(n, user_id=user) for n in range(12) for user in ("alice", "bob")])
    stores = [JobStore(create_engine(db_url)) for _ in range(6)]
    done: list[int] = []
    most_running: Counter[str] = Counter()

    async def work_loop(store: JobStore, worker_id: str) -> None:
        while (job := await store.claim(worker_id, 30, max_running_per_user=2)) is not None or len(done) < len(jobs):
            if job is None:
                await anyio.sleep(0.01)
                continue
            # Every running job of the user is visible now (the claim committed): never more than the cap.
            running = (await store.count_by_status(user_id=job.user_id))[JobStatus.PROCESSING]
            most_running[job.user_id] = max(most_running[job.user_id], running)
            await anyio.sleep(0.02)
            assert await store.complete(job.id, worker_id, output_path="/out.mp4", output_file_id=None) is not None
            done.append(job.id)

    try:
        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for n, store in enumerate(stores):
                    tg.start_soon(work_loop, store, f"w{n}")
        assert sorted(done) == sorted(job.id for job in jobs)
        assert most_running == {"alice": 2, "bob": 2}
    finally:
        for store in stores:
            await store.close()
        await setup.close()


async def test_a_small_job_overtakes_its_owners_long_jobs_queued_within_the_head_start(store: JobStore) -> None:
    early = await queue(store, "alice", 1, at=timedelta(0))
    long_jobs = await queue(store, "alice", 3, at=SMALL_JOB_HEAD_START + timedelta(minutes=1))
    (small,) = await queue(store, "alice", 1, at=SMALL_JOB_HEAD_START + timedelta(minutes=30), small=True)
    assert small.queue_at == small.created_at - SMALL_JOB_HEAD_START
    assert long_jobs[0].queue_at == long_jobs[0].created_at
    order = [job.id for job in await claim_all(store)]
    # The long job queued more than the head start before the small one keeps its place.
    assert order == [early[0].id, small.id, *(job.id for job in long_jobs)]


async def test_a_small_job_does_not_jump_over_other_users(store: JobStore) -> None:
    (bob,) = await queue(store, "bob", 1, at=timedelta(0))
    (small,) = await queue(store, "alice", 1, at=timedelta(minutes=10), small=True)
    assert [job.id for job in await claim_all(store)] == [bob.id, small.id]


async def test_the_sqlite_claim_seeks_through_indexes_and_never_scans_the_jobs_table(tmp_path) -> None:
    store = await JobStore.open(f"sqlite+aiosqlite:///{tmp_path / 'jobs.sqlite'}")
    try:
        first_user = store._fair_order(LATER, 2).limit(1).scalar_subquery()
        statement = store._claim_for(first_user, LATER, None, {"status": JobStatus.PROCESSING.value})
        sql = str(statement.compile(dialect=store.engine.dialect, compile_kwargs={"literal_binds": True}))
        async with store.engine.connect() as conn:
            plan = [row[3] for row in await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]
        aliases = ("jobs", "candidates", "waiting_jobs")
        touching = [step for step in plan if step.split()[1:2] and step.split()[1] in aliases]
        # The job taken (by its id), the head of the chosen user's queue, and each ranked user's oldest wait.
        assert len(touching) == 3, plan
        assert all(step.startswith("SEARCH") and ("INDEX" in step or "PRIMARY KEY" in step) for step in touching), plan
        # The one table read whole is queue_users, a row per user however many jobs they queued (and the
        # ranking made of it).
        assert [step.split()[1] for step in plan if step.startswith("SCAN")] == ["queue_users", "ranked"], plan
    finally:
        await store.close()


async def test_with_one_place_a_newcomer_goes_before_the_user_whose_job_just_ended(store: JobStore) -> None:
    alice = await queue(store, "alice", 3, at=timedelta(0))
    first = await store.claim("w1", 60, now=T0)
    assert first is not None and first.id == alice[0].id
    (bob,) = await queue(store, "bob", 1, at=timedelta(seconds=1))
    await store.complete(first.id, "w1", output_path="/out.mp4", output_file_id=None, now=T0 + timedelta(minutes=1))
    # Both have nothing running and Alice's batch is older, but she just had her turn: Bob's comes first.
    after = [await store.claim("w1", 60, now=T0 + timedelta(minutes=m)) for m in (1, 2)]
    assert [job.id for job in after if job is not None] == [bob.id, alice[1].id]


async def test_users_with_nothing_running_take_turns_least_recently_served_first(store: JobStore) -> None:
    for user in ("alice", "bob", "carol"):
        await queue(store, user, 3, at=timedelta(0))
    order = []
    for minute in range(6):
        job = await store.claim("w1", 60, now=LATER + timedelta(minutes=minute))
        assert job is not None
        order.append(job.user_id)
        await store.complete(job.id, "w1", output_path="/o.mp4", output_file_id=None, now=job.started_at)
    assert order == ["alice", "bob", "carol", "alice", "bob", "carol"]
