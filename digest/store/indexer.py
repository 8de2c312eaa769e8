"""The ingest's helper thread: it finishes each chunk's write transaction (indexes the
chunk's new papers for full-text search, commits) while the next chunk is parsed.

May import: the standard library.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from typing import Generic, TypeVar

T = TypeVar("T")


class BackgroundIndexer(Generic[T]):
    """Finishes each chunk of an ingest on a helper thread: ``finish(chunk)`` (given by the
    store) does the rest of the chunk's transaction that needs no Python per row (stages
    and indexes its new papers) and commits it; the ingest began and wrote it on its own
    thread, and describes what is left in ``chunk``. SQLite
    tokenizes and writes the WAL without holding Python's GIL, so this runs at once with
    the parsing of the next chunk, on the other core. One thread at a time uses the
    connection: the ingest calls :meth:`wait` before it touches it again, and leaving the
    block waits too (also on an error, before the staged papers are discarded)."""

    def __init__(self, finish: Callable[[T], None]) -> None:
        self._finish = finish
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digest-fts")
        self._pending: Future[None] | None = None

    def __enter__(self) -> BackgroundIndexer[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if exc_info[0] is None:
                self.wait()
            elif self._pending is not None:
                futures_wait([self._pending])  # its error, if any, is not the one to report
        finally:
            self._pool.shutdown()

    def finish_chunk(self, chunk: T) -> None:
        """Hand the open transaction over: the helper calls ``finish(chunk)``. The caller
        must not use the connection again before :meth:`wait`."""
        self.wait()
        self._pending = self._pool.submit(self._finish, chunk)

    def wait(self) -> None:
        """Until the chunk handed over last is committed; raises its error (the chunk's
        transaction is then rolled back)."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()
