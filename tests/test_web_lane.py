"""The store lane behind the subscriber links: batches of jobs on one thread and one
connection, each job undone alone when it fails, writes in turn with the admin pages."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from digest.errors import StoreError
from digest.store import Store
from digest.web.lane import StoreLane


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "lane.db"
    store = Store.open(path, create=True)
    store.db.execute("CREATE TABLE marks (value INTEGER UNIQUE)")
    store.close()
    return path


def marks(database: Path) -> list[int]:
    store = Store.open(database)
    try:
        return [row[0] for row in store.db.execute("SELECT value FROM marks ORDER BY value")]
    finally:
        store.close()


def insert(value: int, *, then_fail: bool = False) -> Any:
    def job(store: Store) -> int:
        store.db.execute("INSERT INTO marks (value) VALUES (?)", [value])
        if then_fail:
            raise ValueError(f"job {value} failed after writing")
        return threading.get_ident()

    return job


def test_a_failing_job_undoes_only_itself_and_the_rest_commit(database: Path) -> None:
    lock = threading.Lock()
    lane = StoreLane(lambda: Store.open(database), lock)

    async def scenario() -> list[Any]:
        lock.acquire()  # the first job waits for the lock, the others queue up behind it
        first = asyncio.ensure_future(lane.write(insert(1)))
        await asyncio.sleep(0.1)
        rest = [
            asyncio.ensure_future(lane.write(job))
            for job in (insert(2), insert(1), insert(3), insert(4, then_fail=True), insert(5))
        ]
        await asyncio.sleep(0.1)
        assert not first.done(), "a write must wait for the shared write lock"
        lock.release()
        return await asyncio.gather(first, *rest, return_exceptions=True)

    try:
        outcomes = asyncio.run(scenario())
    finally:
        lane.stop()
    failed = [type(o).__name__ for o in outcomes if isinstance(o, Exception)]
    assert failed == ["IntegrityError", "ValueError"]
    threads = {o for o in outcomes if not isinstance(o, Exception)}
    assert len(threads) == 1 and threading.get_ident() not in threads  # one lane thread
    assert marks(database) == [1, 2, 3, 5]


def test_reads_do_not_wait_for_the_write_lock(database: Path) -> None:
    lock = threading.Lock()
    lane = StoreLane(lambda: Store.open(database), lock)

    def count(store: Store) -> int:
        return int(store.db.execute("SELECT count(*) FROM marks").fetchone()[0])

    async def scenario() -> int:
        with lock:  # an admin page is writing
            return await asyncio.wait_for(lane.read(count), timeout=5)

    try:
        assert asyncio.run(scenario()) == 0
    finally:
        lane.stop()


def test_stop_finishes_the_queued_jobs_then_closes(database: Path) -> None:
    lock = threading.Lock()
    lane = StoreLane(lambda: Store.open(database), lock)
    done: list[int] = []

    async def scenario() -> None:
        lock.acquire()
        futures = [asyncio.ensure_future(lane.write(insert(n))) for n in range(20)]
        await asyncio.sleep(0.05)
        stopper = threading.Thread(target=lane.stop)
        stopper.start()  # asks the thread to end while 20 jobs are still waiting
        lock.release()
        for future in futures:
            await future
            done.append(1)
        stopper.join(timeout=5)
        assert not stopper.is_alive()

    asyncio.run(scenario())
    assert len(done) == 20
    assert marks(database) == list(range(20))


def test_a_database_that_cannot_open_fails_each_job_instead_of_hanging(tmp_path: Path) -> None:
    lane = StoreLane(lambda: Store.open(tmp_path / "missing.db"), threading.Lock())

    async def scenario() -> None:
        for _ in range(2):
            with pytest.raises(StoreError, match="no database here"):
                await asyncio.wait_for(lane.read(lambda store: 1), timeout=5)

    try:
        asyncio.run(scenario())
    finally:
        lane.stop()


def test_a_burst_of_clicks_is_committed_in_few_transactions(database: Path) -> None:
    """200 writes at once go through in batches, not one commit each (SQLite's
    total_changes would be the same either way; the lane's batch count is what differs)."""
    lock = threading.Lock()
    lane = StoreLane(lambda: Store.open(database), lock)
    batches: list[int] = []
    run_batch = lane._run_batch

    def counting(store: Store, batch: list[Any]) -> list[tuple[bool, Any]]:
        batches.append(len(batch))
        time.sleep(0.005)  # a busy disk: more clicks arrive meanwhile
        return run_batch(store, batch)

    lane._run_batch = counting  # type: ignore[method-assign]

    async def scenario() -> None:
        await asyncio.gather(*(lane.write(insert(n)) for n in range(200)))

    try:
        asyncio.run(scenario())
    finally:
        lane.stop()
    assert marks(database) == list(range(200))
    assert sum(batches) == 200 and len(batches) < 20
