"""The ingest's background full-text indexer: each chunk's new papers go into FTS5 on a
helper thread while the next chunk is parsed.

May import: the standard library.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait


class BackgroundIndexer:
    """Indexes (FTS5) each chunk's new papers on a helper thread, in a transaction of its
    own, while the ingest parses the next chunk: SQLite tokenizes without holding Python's
    GIL, so the two run at once on two cores. One thread at a time uses the connection:
    the ingest calls :meth:`wait` before it touches it again, and leaving the block waits
    too (also on an error, before the staged papers are discarded)."""

    def __init__(self, index: Callable[[], None]) -> None:
        self._index = index
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digest-fts")
        self._pending: Future[None] | None = None

    def __enter__(self) -> BackgroundIndexer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if exc_info[0] is None:
                self.wait()
            elif self._pending is not None:
                futures_wait([self._pending])  # its error, if any, is not the one to report
        finally:
            self._pool.shutdown()

    def index_new_papers(self) -> None:
        """Start indexing the staged papers not indexed yet."""
        self.wait()
        self._pending = self._pool.submit(self._index)

    def wait(self) -> None:
        """Until the indexing started last has finished; raises its error."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()
