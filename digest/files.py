"""Files written whole, and private folders: the one home of digest's atomic writes.

A reader (or a crash) sees the old file or the new one, never half of one: the data goes
to a temporary file in the same folder, then ``os.replace`` moves it into place (atomic on
POSIX within one file system). Used for outbox messages, inbox error notes and the cached
model. Every file and folder digest creates is readable by its owner only (0600 and
0700, whatever the umask): outbox messages carry working unsubscribe and preferences links,
and the database holds every subscriber's address. May import nothing from digest.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write_atomically(path: Path, data: bytes, *, fsync: bool = False) -> None:
    """Write ``data`` to ``path`` whole, replacing any file there.

    ``fsync`` also flushes the data to disk before the rename (for files whose loss after a
    power cut costs more than a rewrite). Raises ``OSError`` when the folder is missing or
    not writable; the temporary file is removed then.

    Four system calls without ``fsync`` (open, write, close, rename): the outbox writes one
    file per subscriber in the daily run. The temporary name is this process's own
    (``.NAME.PID-N.tmp``, created exclusively); one left by a crashed process of the same
    pid makes it fall back to a random name.
    """
    if fsync:
        write_atomically_with(path, lambda out: out.write(data), fsync=True)
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{next(_TMP_COUNTER)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE)
    except FileExistsError:
        write_atomically_with(path, lambda out: out.write(data))
        return
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


_TMP_COUNTER = itertools.count()


def write_atomically_with(
    path: Path, write: Callable[[BinaryIO], object], *, fsync: bool = False
) -> None:
    """Like :func:`write_atomically`, for writers that stream into a binary file object."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            if fsync:
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def make_private_dir(path: Path) -> None:
    """Create ``path`` and any missing parents as folders only their owner can enter
    (0700). Folders that already exist are left as they are."""
    missing = []
    folder = path
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:  # made meanwhile by another process
            continue
        os.chmod(folder, PRIVATE_DIR)  # mkdir's mode is cut by the umask


def make_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist, else make it 0600."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)
