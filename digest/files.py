"""Files written whole: the one home of digest's atomic writes.

A reader (or a crash) sees the old file or the new one, never half of one: the data goes
to a temporary file in the same folder, then ``os.replace`` moves it into place (atomic on
POSIX within one file system). Used for outbox messages, inbox error notes and the cached
model. May import nothing from digest.
"""

from __future__ import annotations

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
    """
    write_atomically_with(path, lambda out: out.write(data), fsync=fsync)


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
