"""A store call cancelled half-way does not leave the process unable to exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]

# Four tasks hammer the store, the task group is cancelled while statements are in flight, the store closes,
# asyncio.run returns. Before transactions were shielded, SQLAlchemy terminated the interrupted aiosqlite
# connection in a task of its own that waited forever for a stopped thread, and asyncio.run never returned.
PROGRAM = textwrap.dedent(
    """
    import asyncio, sys
    import anyio
    from ex_app.lib.jobs import JobStore

    async def main(path):
        store = await JobStore.open(f"sqlite+aiosqlite:///{path}")
        async def busy():
            while True:
                await store.claim("w1", 5)
                await anyio.sleep(0)
        try:
            async with anyio.create_task_group() as tg:
                for _ in range(4):
                    tg.start_soon(busy)
                await anyio.sleep(0.3)
                tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await store.close()

    asyncio.run(main(sys.argv[1]))
    print("exited")
    """
)


def test_cancelling_store_calls_in_flight_lets_the_process_exit(tmp_path: Path):
    for attempt in range(3):
        result = subprocess.run(
            [sys.executable, "-c", PROGRAM, str(tmp_path / f"jobs{attempt}.db")],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0 and "exited" in result.stdout, result.stderr
