"""The ingest's helper thread: it commits each chunk, then indexes the chunk's new papers
for full-text search (now and then checkpointing the WAL), while the ingest parses and
looks up the next chunk.

May import: the standard library and the store's ``db`` module.
"""

from __future__ import annotations

import gc
import itertools
import logging
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .db import busy, is_busy, transaction

log = logging.getLogger(__name__)

_READER_CACHE_KIB = 16384  # the read connection's page cache (the lookups' index pages)
# Python's thread switch interval during an ingest (default 5 ms). Between its statements
# the helper needs the GIL for a moment, and while it waits (up to the interval, as the
# parsing thread holds it) it holds SQLite's write lock, which the ingest's next write
# waits for: 0.5 ms made bench_ingest ~8% faster (3.7-3.8 s against 4.1 s, 2026-12-01);
# 0.2 and 1 ms measured the same as 0.5.
_SWITCH_INTERVAL = 0.0005
# The ingest and its helper take the write lock back to back (a chunk's write, its commit,
# its indexing), and SQLite's busy handler lets another writer (a run, a web click) try
# again only every 100 ms once it has waited a while: without a pause it could wait for
# the whole ingest (4.35 s in bench_ingest_lock, 200,000 records). So after every
# _LOCK_SHARE_EVERY seconds of chunks the ingest leaves the lock free for _LOCK_GAP
# seconds: no write waits much more than a second, for ~10% of a large ingest's time.
_LOCK_SHARE_EVERY = 0.9
_LOCK_GAP = 0.1


@dataclass
class ChunkWrite:
    """One chunk's transaction, as the ingest hands it to the helper thread."""

    # The last paper rowid before the chunk's new papers (None: it staged none).
    new_after: int | None = None
    commit: bool = True  # False: the chunk is a savepoint in a transaction of the caller's
    committed: Future[None] = field(default_factory=Future)


class BackgroundIndexer:
    """Finishes each chunk of an ingest on a helper thread, beside the next chunk's work.

    The ingest writes a chunk in a transaction it begins (:meth:`chunk`); when the block
    ends, the helper files the chunk's new papers under their own titles
    (``file_under_own_titles(after)``: one statement) and commits, then indexes them for
    full-text search (``index_staged``: a transaction of its own, one statement). Every
    ``checkpoint_every`` chunks, after the commit, a third thread copies the WAL into the
    database file on a connection of its own (a passive checkpoint, what SQLite's
    automatic one does at a commit, which is off meanwhile), beside the indexing and the
    next chunk's writes. SQLite commits, tokenizes and writes without holding Python's
    GIL, so the helper runs on the other core while the ingest parses the next chunk and
    looks its papers up on a read connection of its own (:meth:`committed_reader`: the
    chunk before is committed by then, if not yet indexed). One thread at a time uses
    the main connection: the ingest calls :meth:`wait` before it writes again, and
    leaving the block waits too (also on an error, before the staged papers are
    discarded). Python's cyclic garbage collector is paused for the block and its thread
    switch interval shortened; both, and SQLite's automatic checkpoint setting, are put
    back after it.

    Without a read connection (a database in memory, or an ingest inside a transaction
    of the caller's, whose writes another connection cannot see) the lookups wait for
    the helper and read on the main connection.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        file_under_own_titles: Callable[[int], None],
        index_staged: Callable[[], None],
        *,
        path: Path | None,
        checkpoint_every: int,
    ) -> None:
        self._conn = conn
        self._file_under_own_titles = file_under_own_titles
        self._index_staged = index_staged
        self._path = path
        self._checkpoint_every = checkpoint_every
        self._finished = itertools.count(1)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digest-fts")
        self._checkpoint_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digest-wal")
        self._checkpointing: Future[None] | None = None
        self._pending: Future[None] | None = None
        self._committed: Future[None] | None = None
        self._reader: sqlite3.Connection | None = None
        self._checkpointer: sqlite3.Connection | None = None
        self._autocheckpoint = 0
        self._gc_was_on = False
        self._switch_interval = 0.0
        self._shared_at = time.monotonic()  # when the ingest last left the lock free a while
        self._free_since = 0.0  # when the helper last committed (the lock free since)

    def __enter__(self) -> BackgroundIndexer:
        if self._path is not None:
            if not self._conn.in_transaction:
                self._reader = sqlite3.connect(str(self._path), check_same_thread=False)
                self._reader.execute("PRAGMA query_only = 1")
                self._reader.execute(f"PRAGMA cache_size = -{_READER_CACHE_KIB}")
            self._checkpointer = sqlite3.connect(str(self._path), check_same_thread=False)
        (self._autocheckpoint,) = self._conn.execute("PRAGMA wal_autocheckpoint").fetchone()
        self._conn.execute("PRAGMA wal_autocheckpoint = 0")
        # An ingest keeps ~8 small objects per record alive until its chunk is written
        # (the record, its row, placement and title): the collector walked them again and
        # again, a sixth of the ingest's time, and found nothing, since nothing here makes
        # a reference cycle (each chunk is freed by reference counting, so memory stays
        # bounded by it). Cycles made meanwhile by other threads are collected after.
        self._gc_was_on = gc.isenabled()
        gc.disable()
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, _SWITCH_INTERVAL))
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if exc_info[0] is None:
                self.wait()
            elif self._pending is not None:
                futures_wait([self._pending])  # its error, if any, is not the one to report
        finally:
            self._pool.shutdown()
            self._checkpoint_pool.shutdown()
            for conn in (self._reader, self._checkpointer):
                if conn is not None:
                    conn.close()
            if self._gc_was_on:
                gc.enable()
            sys.setswitchinterval(self._switch_interval)
            self._conn.execute(f"PRAGMA wal_autocheckpoint = {int(self._autocheckpoint)}")

    def committed_reader(self) -> sqlite3.Connection:
        """The connection to look the next chunk's papers up on, once the chunk handed
        over last is committed (raises its error): the read connection, or (without one)
        the main connection once the helper is done with it."""
        if self._reader is None:
            self.wait()
            return self._conn
        if self._committed is not None:
            committed, self._committed = self._committed, None
            committed.result()
        return self._reader

    @contextmanager
    def chunk(self) -> Iterator[ChunkWrite]:
        """A write transaction for one chunk: begun here, written by the block (which says
        in the :class:`ChunkWrite` whether it staged papers), then handed to the helper
        thread; rolled back here if the block fails. Inside a transaction of the caller's
        the chunk is a savepoint of it, and the caller commits. A lock wait that runs out
        is a :class:`~digest.errors.StoreError`. Call :meth:`wait` first."""
        conn = self._conn
        if conn.in_transaction:
            write = ChunkWrite(commit=False)
            with transaction(conn, self._path):
                yield write
            self._hand_over(write)
            return
        self._share_the_lock()
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

    def _share_the_lock(self) -> None:
        """Before a chunk's write: leave the write lock free for :data:`_LOCK_GAP` s
        after the helper's last commit, once every :data:`_LOCK_SHARE_EVERY` s."""
        now = time.monotonic()
        if now - self._shared_at < _LOCK_SHARE_EVERY:
            return
        time.sleep(max(0.0, self._free_since + _LOCK_GAP - now))
        self._shared_at = time.monotonic()

    def wait(self) -> None:
        """Until the helper is done with the chunk handed over last (committed, indexed);
        raises its error."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def _hand_over(self, write: ChunkWrite) -> None:
        self.wait()
        self._committed = write.committed
        self._pending = self._pool.submit(self._finish, write)

    def _finish(self, write: ChunkWrite) -> None:
        """On the helper thread: file the new papers under their titles, commit, index
        them, and now and then start a checkpoint."""
        conn = self._conn
        try:
            if write.new_after is not None:
                self._file_under_own_titles(write.new_after)
            if write.commit:
                conn.commit()
        except BaseException as exc:
            if write.commit:
                conn.rollback()
            write.committed.set_exception(exc)
            raise
        write.committed.set_result(None)
        if write.new_after is not None:
            self._index_staged()  # a transaction of its own (a savepoint in the caller's)
        self._free_since = time.monotonic()
        if (
            self._checkpointer is not None
            and next(self._finished) % self._checkpoint_every == 0
            and (self._checkpointing is None or self._checkpointing.done())
        ):
            # On a thread and a connection of its own, while the ingest writes the next
            # chunk (which appends nothing to the WAL before its commit): a passive
            # checkpoint copies what was committed before it, and when it has copied all,
            # the next commit starts the WAL again from its beginning.
            self._checkpointing = self._checkpoint_pool.submit(self._checkpoint, self._checkpointer)

    @staticmethod
    def _checkpoint(conn: sqlite3.Connection) -> None:
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:
            # Only a speed-up: the WAL holds every commit, and SQLite's automatic
            # checkpoint (back on for the publish) copies it later.
            log.debug("checkpoint during the ingest skipped: %s", exc)
