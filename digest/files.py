"""Files written whole, and private folders: the one home of digest's atomic writes.

A reader (or a crash) sees the old file or the new one, never half of one: the data goes
to a temporary file in the same folder, then ``os.replace`` moves it into place (atomic on
POSIX within one file system). Used for outbox messages, inbox error notes and the cached
model. Every file and folder digest creates is readable by its owner only (0600 and
0700, whatever the umask): outbox messages carry working unsubscribe and preferences links,
and the database holds every subscriber's address. May import nothing from digest.
"""

from __future__ import annotations

import codecs
import itertools
import os
import stat
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


class FileRefused(ValueError):
    """A file digest will not read or decode: ``str(exc)`` is one line without the file's
    name (the caller adds it), ``line`` the 1-based line of a decoding error, else None."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_regular_file(path: Path, *, limit: int, what: str) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    Raises :class:`FileRefused` for a folder, pipe, device or socket (``/dev/zero`` would
    otherwise be read forever) and for a file over ``limit`` bytes ("split the {what}");
    ``OSError`` when it cannot be opened. The file is opened without blocking (a pipe with
    no writer does not hang), checked with ``fstat`` on the open descriptor (no window for
    a swap between check and read), and read for ``limit + 1`` bytes at most, so a file
    that grows or lies about its size still costs no more than that memory.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise FileRefused(f"{_kind(mode)}, not a {what} file; give a regular file")
        with os.fdopen(fd, "rb", closefd=False) as file:
            data = file.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise FileRefused(
            f"over the {limit:,}-byte limit for a {what}; split it into smaller files"
        )
    return data


# Byte-order marks and the encodings they announce; UTF-32's before UTF-16's, whose
# little-endian mark is the start of UTF-32's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)


def decode_text(data: bytes, *, what: str, action: str, binary: str) -> str:
    """The text of a file a person gave: UTF-8 (with or without a BOM), or UTF-16 / UTF-32
    with a BOM (as Windows tools save text).

    Raises :class:`FileRefused` for an empty file ("nothing to {action}"), a binary one
    (a NUL byte in the first 64 KiB and no UTF-16/32 BOM; the message is ``binary``) and
    text in no such encoding ("save the {what} as UTF-8", with the line).
    """
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(codec)
            except UnicodeDecodeError as exc:
                raise FileRefused(
                    f"starts with a {name} byte-order mark but is not valid {name} "
                    f"(at byte {exc.start + len(bom)}); save the {what} as UTF-8"
                ) from exc
            if not text.strip():
                raise FileRefused(f"the file is empty; nothing to {action}")
            return text
    if not data.strip():
        raise FileRefused(f"the file is empty; nothing to {action}")
    if b"\x00" in data[:65536]:
        raise FileRefused(binary)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRefused(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the {what} as UTF-8",
            line=data[: exc.start].count(b"\n") + 1,
        ) from exc
