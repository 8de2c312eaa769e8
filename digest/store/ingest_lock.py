"""The ingest lock's file: one ingest at a time per database, across processes.

An exclusive ``flock`` on ``DATABASE.ingest-lock`` beside the database, released by the
kernel when the process dies, so a crashed ingest never leaves it held; a process that
wants it polls for a bounded time, then gives up with one line. What the lock guards (and
what taking it cleans up) is :meth:`digest.store.papers.PaperStore.ingest_lock`'s.

May import: the standard library and :mod:`digest.errors`.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import StoreError


def lock_file(database: Path) -> Path:
    """The lock file of the database file ``database``."""
    return database.with_name(database.name + ".ingest-lock")


@contextmanager
def holding(database: Path, wait: float) -> Iterator[None]:
    """Hold ``database``'s ingest lock (created 0600 when missing), waiting at most
    ``wait`` seconds for another process to release it; :class:`StoreError` naming the
    lock file after that."""
    path = lock_file(database)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(fd, "r+b") as handle:
        _wait_for_lock(handle.fileno(), wait, path)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _wait_for_lock(fd: int, seconds: float, path: object) -> None:
    """Take an exclusive ``flock`` on ``fd``, polling (every 50 ms, backing off to 0.5 s)
    for at most ``seconds``; raises :class:`StoreError` naming ``path`` after that."""
    deadline = time.monotonic() + seconds
    pause = 0.05
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise StoreError(
                    f"{path}: another ingest has held this lock for {seconds:g} s; "
                    "try again once it finishes"
                ) from None
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 0.5)
