"""The connection every part of the store shares: opening the file and its pragmas,
transactions (nested ones are savepoints), the one chunked ``IN (…)`` helper, and the one
place where times and dates become the text stored in the database.

Times: the store takes ``datetime`` and ``date`` objects and writes them here only, as
ISO 8601 text: a moment to the second with the UTC offset it was given in
(``2026-11-22T07:00:00+00:00``; a naive moment means UTC, as everywhere in digest, and is
written without an offset), a day as ``2026-11-22``. That is the format every time column
already held, so old rows read the same (some older rows carry microseconds: they parse
and compare the same way). Moments are compared in SQL through ``julianday()``, which
reads the offset, so two moments compare by the instant they name, never as text.

Owns no table. May import: the standard library, ``sqlite_utils`` and :mod:`digest.errors`.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import sqlite_utils

from ..errors import StoreError
from ..files import PRIVATE_FILE, make_private_dir, make_private_file

CHUNK = 500  # values per IN (...) query; well under SQLite's variable limit

K = TypeVar("K")


BUSY_TIMEOUT = 30.0  # seconds a connection waits for another's write transaction
WAL_SIZE_LIMIT = 64 * 1024 * 1024  # bytes the WAL file is cut back to when it starts over


def connect(
    path: Path, *, create: bool, busy_timeout: float = BUSY_TIMEOUT
) -> sqlite_utils.Database:
    """The database at ``path`` with digest's pragmas (WAL, foreign keys, busy timeout).

    Without ``create`` a missing file is an error that says how to make one. A write that
    waits longer than ``busy_timeout`` seconds for another process's write transaction
    fails with a :class:`StoreError` saying the database is busy (see :func:`busy`); no
    write transaction of digest's own holds the lock for more than about a second.
    """
    if not create and not path.exists():
        raise StoreError(
            f"{path}: no database here; run `digest init` first "
            f"(or fix store.database in the config)"
        )
    try:
        make_private_dir(path.parent)
        # SQLite gives -wal and -shm the database file's mode, so all three are 0600.
        if not path.exists():
            make_private_file(path)
        else:
            _tighten(path)
        # An ingest hands the connection to its indexing thread between chunks (never
        # two threads at once), so it may be used off the thread that opened it.
        conn = sqlite3.connect(str(path), timeout=busy_timeout, check_same_thread=False)
        db = sqlite_utils.Database(conn)
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        if db.journal_mode != "wal":
            db.enable_wal()
        conn.execute("PRAGMA synchronous = NORMAL")
        # 64 MiB of page cache: index inserts during a large ingest stay in memory.
        conn.execute("PRAGMA cache_size = -65536")
        # A large ingest grows the WAL to ~2.6x its listing (its checkpoints run beside
        # its writes, see store/indexer.py); once the WAL starts over, SQLite truncates
        # the file to this size instead of keeping it that large.
        conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
    except sqlite3.DatabaseError as exc:
        if is_busy(exc):
            raise busy(path, exc) from exc
        raise cannot_open(path, exc) from exc
    return db


def _tighten(path: Path) -> None:
    """Make an existing database (and its -wal, -shm) 0600, as a new one is; best effort:
    a file someone else owns is left as it is."""
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if file.stat().st_mode & 0o077:
                file.chmod(PRIVATE_FILE)
        except OSError:
            continue


def cannot_open(path: Path | None, exc: sqlite3.DatabaseError) -> StoreError:
    return StoreError(f"{path}: cannot open the database ({exc})")


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite giving up on a lock another connection holds."""
    return isinstance(exc, sqlite3.OperationalError) and (
        "database is locked" in str(exc) or "database is busy" in str(exc)
    )


def busy(path: Path | None, exc: BaseException) -> StoreError:
    """The one-line error for a lock wait that ran out (``database is locked``)."""
    where = f"{path}: " if path else ""
    return StoreError(
        f"{where}the database is busy (another digest process has been writing to it for "
        "longer than the busy timeout); try again"
    )


@contextmanager
def transaction(conn: sqlite3.Connection, path: Path | None = None) -> Iterator[None]:
    """One unit of work: everything inside commits together or not at all.

    Inside another transaction it is a savepoint: a failure undoes only its own part,
    and the outer transaction decides what is committed. A lock wait that runs out
    becomes a :class:`StoreError` that says to try again (see :func:`busy`).
    """
    try:
        with _transaction(conn):
            yield
    except sqlite3.OperationalError as exc:
        if is_busy(exc):
            raise busy(path, exc) from exc
        raise


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    if conn.in_transaction:
        conn.execute("SAVEPOINT nested")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK TO nested")
            conn.execute("RELEASE nested")
            raise
        conn.execute("RELEASE nested")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.rollback()
        raise
    conn.commit()


def in_chunks(values: Sequence[K], size: int = CHUNK) -> Iterator[tuple[Sequence[K], str]]:
    """``values`` in slices of at most ``size``, each with its ``?, ?, …`` placeholders,
    for ``WHERE column IN ({marks})`` queries over any number of values."""
    for start in range(0, len(values), size):
        chunk = values[start : start + size]
        yield chunk, ", ".join("?" * len(chunk))


def stamp(moment: dt.datetime) -> str:
    """The text the database stores for a moment (see the module docstring)."""
    return moment.isoformat(timespec="seconds")


def day_text(day: dt.date) -> str:
    """The text the database stores for a day: ``YYYY-MM-DD``."""
    return dt.date.isoformat(day)  # of a datetime too, only its date


class StoreBase:
    """The shared connection; each aggregate's part of :class:`digest.store.Store` builds
    on it."""

    def __init__(self, db: sqlite_utils.Database, path: Path | None = None) -> None:
        self.db = db
        self.path = path

    def close(self) -> None:
        self.db.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One unit of work (see :func:`transaction`)."""
        with transaction(self.db.conn, self.path):
            yield

    def checkpoint_every(self, pages: int) -> None:
        """Let this connection's commits grow the WAL to ``pages`` pages (4 KiB each) before
        one of them copies it into the database file (SQLite's ``wal_autocheckpoint``, 1,000
        by default). For a long series of large commits (the daily run's outbox batches,
        ~1,000 pages each): each checkpoint copies and syncs the pages written since the last
        one, and hot pages (indexes) written by several commits are copied once, not once per
        commit. Measured for 10,000 digests: commits 208 us per digest at 1,000 pages, 122 at
        8,192 (2026-12-01)."""
        self.db.conn.execute(f"PRAGMA wal_autocheckpoint = {int(pages)}")

    def data_version(self) -> int:
        """A number that changes whenever another connection (this process's or another's)
        commits a change to the database, and never for this connection's own commits:
        SQLite's ``PRAGMA data_version`` (https://sqlite.org/pragma.html#pragma_data_version).
        Two equal readings mean nobody else wrote in between; ~10 µs."""
        return int(self.db.conn.execute("PRAGMA data_version").fetchone()[0])
