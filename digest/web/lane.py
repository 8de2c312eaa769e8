"""One thread that does the subscriber links' database work, in batches.

Subscribers' clicks (feedback, unsubscribe, preferences) are many small reads and writes.
Handing each to Starlette's thread pool costs more than the SQL itself: a thread wake-up and
two hand-overs of the GIL per request, and a commit per request. The lane is one thread with
its own connection: it takes every job waiting, runs them in one transaction (each inside its
own savepoint, so a job that fails undoes only itself), commits once and wakes the event loop
once for the whole batch. Under load a batch holds dozens of clicks; when it is quiet a batch
is one click, answered at once.

Owns :class:`StoreLane`. Imports no other module of the package, only :mod:`digest.store`.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, TypeVar

from ..store import Store

T = TypeVar("T")
MAX_BATCH = 128  # jobs per transaction: enough to drain a burst, short enough to share the lock


@dataclass
class _Job:
    run: Callable[[Store], Any]
    writes: bool
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


class StoreLane:
    """Runs ``job(store)`` calls for coroutines on one thread with one :class:`Store`.

    ``open_store`` opens the lane's connection (on the lane's thread: sqlite3 connections stay
    on the thread that made them). ``write_lock`` is held while a batch writes, so the lane
    and the admin pages' writes take turns in this process instead of polling SQLite's lock.
    """

    def __init__(self, open_store: Callable[[], Store], write_lock: threading.Lock) -> None:
        self._open_store = open_store
        self._write_lock = write_lock
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    async def read(self, job: Callable[[Store], T]) -> T:
        """``job(store)``'s result; ``job`` must not write."""
        return await self._submit(job, writes=False)

    async def write(self, job: Callable[[Store], T]) -> T:
        """``job(store)``'s result, committed (or its exception, with its changes undone)."""
        return await self._submit(job, writes=True)

    async def _submit(self, job: Callable[[Store], T], *, writes: bool) -> T:
        self._ensure_started()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_Job(job, writes, loop, future))
        return await future

    def _ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                thread = threading.Thread(target=self._serve, name="digest-store-lane", daemon=True)
                thread.start()
                self._thread = thread

    def stop(self) -> None:
        """Finish the jobs already queued, then close the connection and end the thread."""
        with self._start_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._jobs.put(None)
            thread.join()

    def _serve(self) -> None:
        try:
            store: Store | None = self._open_store()
            failure: Exception | None = None
        except Exception as exc:  # e.g. the database vanished: every job gets the error
            store, failure = None, exc
        try:
            stop = False
            while not stop:
                batch, stop = self._take()
                if not batch:
                    continue
                if store is None:
                    _settle_later(batch, [(False, failure)] * len(batch))
                else:
                    _settle_later(batch, self._run_batch(store, batch))
        finally:
            if store is not None:
                store.close()

    def _take(self) -> tuple[list[_Job], bool]:
        """The next batch (wait for one job, then take what else is queued), and whether
        :meth:`stop` asked the thread to end after it."""
        batch: list[_Job] = []
        item = self._jobs.get()
        while item is not None:
            batch.append(item)
            if len(batch) == MAX_BATCH:
                break
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                break
        return batch, item is None

    def _run_batch(self, store: Store, batch: list[_Job]) -> list[tuple[bool, Any]]:
        writes = any(job.writes for job in batch)
        outcomes: list[tuple[bool, Any]] = []
        try:
            with ExitStack() as stack:
                if writes:
                    stack.enter_context(self._write_lock)
                    stack.enter_context(store.transaction())
                for job in batch:
                    outcomes.append(_run_one(store, job, savepoint=writes))
        except Exception as exc:  # BEGIN or COMMIT failed: nothing of the batch was kept
            return [(False, exc)] * len(batch)
        return outcomes


def _run_one(store: Store, job: _Job, *, savepoint: bool) -> tuple[bool, Any]:
    try:
        if not savepoint:
            return True, job.run(store)
        with store.transaction():  # nested: a savepoint, undone alone if the job fails
            return True, job.run(store)
    except Exception as exc:
        return False, exc


def _settle_later(batch: list[_Job], outcomes: list[tuple[bool, Any]]) -> None:
    """Hand the outcomes to each job's event loop, with one wake-up per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, tuple[bool, Any]]]] = {}
    for job, outcome in zip(batch, outcomes, strict=True):
        by_loop.setdefault(job.loop, []).append((job, outcome))
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            loop.call_soon_threadsafe(_settle, settled)


def _settle(settled: list[tuple[_Job, tuple[bool, Any]]]) -> None:
    for job, (ok, value) in settled:
        if job.future.done():  # the request was cancelled (client gone)
            continue
        if ok:
            job.future.set_result(value)
        else:
            job.future.set_exception(value)
