"""The ingest's helper thread: it finishes each chunk's write transaction (indexes the
chunk's new papers for full-text search, commits, now and then checkpoints the WAL)
while the ingest parses the next chunk.

May import: the standard library and the store's ``db`` module.
"""

from __future__ import annotations

import gc
import itertools
import logging
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .db import busy, is_busy, transaction

log = logging.getLogger(__name__)


@dataclass
class ChunkWrite:
    """What the helper thread must do to finish a chunk's transaction."""

    # The last paper rowid before the chunk's new papers (None: it has none to index).
    new_after: int | None = None
    commit: bool = True  # False: the chunk is a savepoint in a transaction of the caller's


class BackgroundIndexer:
    """Finishes each chunk of an ingest on a helper thread.

    The ingest begins a chunk's transaction and writes it on its own thread
    (:meth:`chunk`); when the block ends, the helper indexes the chunk's new papers
    (``index_new_papers(after)``: one statement) and commits; every ``checkpoint_every``
    chunks it also copies the WAL into the database file (a passive checkpoint, what
    SQLite's automatic one does at a commit, which is off meanwhile: the chunks' commits
    only append to the WAL). SQLite tokenizes and writes without holding Python's GIL, so
    this runs at once with the parsing of the next chunk, on the other core; the helper
    runs two statements a chunk, so it seldom waits for the GIL. One thread at a time
    uses the connection: the ingest calls :meth:`wait` before it touches it again, and
    leaving the block waits too (also on an error, before the staged papers are
    discarded). Python's cyclic garbage collector is paused for the block, and SQLite's
    automatic checkpoint setting put back after it.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        index_new_papers: Callable[[int], None],
        *,
        path: Path | None,
        checkpoint_every: int,
    ) -> None:
        self._conn = conn
        self._index_new_papers = index_new_papers
        self._path = path
        self._checkpoint_every = checkpoint_every
        self._finished = itertools.count(1)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digest-fts")
        self._pending: Future[None] | None = None
        self._autocheckpoint = 0
        self._gc_was_on = False

    def __enter__(self) -> BackgroundIndexer:
        (self._autocheckpoint,) = self._conn.execute("PRAGMA wal_autocheckpoint").fetchone()
        self._conn.execute("PRAGMA wal_autocheckpoint = 0")
        # An ingest keeps ~8 small objects per record alive until its chunk is written
        # (the record, its row, placement and title): the collector walked them again and
        # again, a sixth of the ingest's time, and found nothing, since nothing here makes
        # a reference cycle (each chunk is freed by reference counting, so memory stays
        # bounded by it). Cycles made meanwhile by other threads are collected after.
        self._gc_was_on = gc.isenabled()
        gc.disable()
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if exc_info[0] is None:
                self.wait()
            elif self._pending is not None:
                futures_wait([self._pending])  # its error, if any, is not the one to report
        finally:
            self._pool.shutdown()
            if self._gc_was_on:
                gc.enable()
            self._conn.execute(f"PRAGMA wal_autocheckpoint = {int(self._autocheckpoint)}")

    @contextmanager
    def chunk(self) -> Iterator[ChunkWrite]:
        """A write transaction for one chunk: begun here, written by the block (which says
        in the :class:`ChunkWrite` what is left to do), then handed to the helper thread;
        rolled back here if the block fails. Inside a transaction of the caller's the
        chunk is a savepoint of it, and the caller commits. A lock wait that runs out is
        a :class:`~digest.errors.StoreError`. Call :meth:`wait` first."""
        conn = self._conn
        if conn.in_transaction:
            write = ChunkWrite(commit=False)
            with transaction(conn, self._path):
                yield write
            self._hand_over(write)
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if is_busy(exc):
                raise busy(self._path, exc) from exc
            raise
        write = ChunkWrite()
        try:
            yield write
        except BaseException:
            conn.rollback()
            raise
        self._hand_over(write)

    def wait(self) -> None:
        """Until the chunk handed over last is committed; raises its error (its
        transaction is then rolled back)."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def _hand_over(self, write: ChunkWrite) -> None:
        self.wait()
        self._pending = self._pool.submit(self._finish, write)

    def _finish(self, write: ChunkWrite) -> None:
        """On the helper thread: index, commit, maybe checkpoint."""
        conn = self._conn
        try:
            if write.new_after is not None:
                self._index_new_papers(write.new_after)
            if write.commit:
                conn.commit()
        except BaseException:
            if write.commit:
                conn.rollback()
            raise
        if next(self._finished) % self._checkpoint_every == 0:
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.OperationalError as exc:
                # Only a speed-up: the WAL holds every commit, and SQLite's automatic
                # checkpoint (back on for the publish) copies it later.
                log.debug("checkpoint during the ingest skipped: %s", exc)
