"""Files written whole, and private folders: the one home of digest's atomic writes.

A reader (or a crash) sees the old file or the new one, never half of one: the data goes
to a temporary file in the same folder, then ``os.replace`` moves it into place (atomic on
POSIX within one file system). Used for outbox messages, inbox error notes and the cached
model. The two halves may also come apart (:func:`stage_file`, then
:meth:`StagedFiles.publish`), even in two processes: the daily run's render workers stage
outbox messages and the run moves each into place once its digest is claimed. Every file
and folder digest creates is readable by its owner only (0600 and 0700, whatever the
umask): outbox messages carry working unsubscribe and preferences links, and the database
holds every subscriber's address; :func:`tighten_private_dir` makes an existing folder so.
A temporary file's name says which process owns it (:func:`stage_file`), so one whose owner
is gone can be removed at once (:func:`remove_stale_temp_files`). A working folder deleted
under the process makes every relative path name nothing (:func:`working_folder`,
:data:`CWD_GONE`). May import nothing from digest.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import hashlib
import itertools
import logging
import os
import re
import stat
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO


def write_atomically(path: Path, data: bytes, *, fsync: bool = False) -> None:
    """Write ``data`` to ``path`` whole, replacing any file there.

    ``fsync`` also flushes the data to disk before the rename (for files whose loss after a
    power cut costs more than a rewrite). Raises ``OSError`` when the folder is missing or
    not writable; the temporary file is removed then.

    Four system calls without ``fsync`` (open, write, close, rename): the outbox writes one
    file per subscriber in the daily run. It is :func:`stage_file` then the rename.
    """
    if fsync:
        write_atomically_with(path, lambda out: out.write(data), fsync=True)
        return
    tmp = stage_file(path, data)
    try:
        os.rename(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def stage_file(path: Path, data: bytes, *, owner: int | None = None) -> Path:
    """The first half of :func:`write_atomically`: ``data`` written whole to a private
    (0600) temporary file beside ``path``, whose name this returns; ``os.rename`` of it to
    ``path`` is the second half, and may come later or from another process.

    ``owner`` is the pid of the process that will move the file into place or remove it
    (the run, for a message its render worker stages); this process by default. The
    temporary name carries it: ``.NAME.OWNER-N.SCOPE.tmp`` (created exclusively: a
    dot-name that no pattern for ``NAME``'s suffix matches), ``SCOPE`` (:func:`pid_scope`)
    saying on which machine, boot and pid namespace that pid is meant, so
    :func:`remove_stale_temp_files` can tell a file whose owner is gone. A name left by a
    crashed process of the same pid makes it fall back to a random ``N``. Raises
    ``OSError`` when the folder is missing or not writable; nothing is left behind then.
    """
    fd, tmp = _open_temp(path, owner)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _open_temp(path: Path, owner: int | None = None) -> tuple[int, Path]:
    """A new private temporary file beside ``path``, open for writing (see
    :func:`stage_file` for its name)."""
    pid = os.getpid()
    count = next(_TMP_COUNTER)
    serial = str(count) if owner in (None, pid) else f"{pid}_{count}"  # a worker's own
    prefix = f".{path.name}.{pid if owner is None else owner}-"
    suffix = f".{scope}.tmp" if (scope := pid_scope()) else ".tmp"
    tmp = path.with_name(f"{prefix}{serial}{suffix}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE)
    except FileExistsError:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=suffix)
        tmp = Path(name)
    return fd, tmp


@functools.cache
def pid_scope() -> str:
    """8 hex digits naming where this process's pids are meaningful: this boot of this
    machine and this pid namespace (a container has its own), or ``""`` where that cannot
    be read (no ``/proc``). Two processes with the same scope see the same process under
    the same pid; a process of another container or machine sharing the folder has
    another scope, so its files are never judged by a pid of ours."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except (OSError, UnicodeDecodeError):
        return ""
    return hashlib.sha256(f"{boot} {namespace}".encode()).hexdigest()[:8]


# A temporary name that says its owner: ".NAME.OWNER-N.SCOPE.tmp".
_OWNED_TEMP = re.compile(r"\.([1-9][0-9]{0,9})-[A-Za-z0-9_]+\.([0-9a-f]{8})\.tmp\Z")


def _owner_gone(name: str, scope: str) -> bool:
    """Whether the temporary file ``name`` names an owner that no longer exists: a pid of
    this scope with no process (a pid in use again is taken as alive: never a false "gone")."""
    match = _OWNED_TEMP.search(name)
    if not scope or match is None or match.group(2) != scope:
        return False
    try:
        os.kill(int(match.group(1)), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):  # another user's process; a pid out of range
        return False
    return False  # alive (this process, for one)


@dataclass(frozen=True, slots=True)
class StagedFiles:
    """Files written whole under temporary names (:func:`stage_file`) and not yet in
    place: ``moves`` are (temporary, final) pairs, moved in order by :meth:`publish`.

    Made in one process (a render worker) and published or discarded in another (the run):
    plain paths, so it pickles.
    """

    moves: tuple[tuple[Path, Path], ...]

    @property
    def final(self) -> Path:
        """Where the last file goes: the one whose arrival completes the set."""
        return self.moves[-1][1]

    def publish(self) -> None:
        """Rename each temporary file to its final name, in order (each rename atomic;
        raises ``OSError`` at the first that fails, the rest are left staged)."""
        for tmp, final in self.moves:
            os.rename(tmp, final)

    def discard(self) -> None:
        """Remove the temporary files (those already published or gone are skipped)."""
        for tmp, _ in self.moves:
            with contextlib.suppress(OSError):
                tmp.unlink()


def remove_stale_temp_files(folder: Path, *, older_than: float, owner_gone: bool = False) -> int:
    """Remove the temporary files of :func:`stage_file` and :func:`write_atomically`
    (``.NAME.….tmp``) in ``folder`` last modified more than ``older_than`` seconds ago:
    what a process killed between the two halves leaves. With ``owner_gone`` also those,
    whatever their age, whose name says their owner (:func:`stage_file`) is a process of
    this scope (:func:`pid_scope`) that no longer exists: nothing will move them into
    place. Returns how many; a missing folder has none. Reads the folder's names once and
    stats only the dot-named ``.tmp`` ones, so a folder of 100,000 messages costs a single
    listing.
    """
    removed = 0
    limit = time.time() - older_than
    scope = pid_scope() if owner_gone else ""
    try:
        entries = os.scandir(folder)
    except FileNotFoundError:
        return 0
    with entries:
        for entry in entries:
            name = entry.name
            if not (name.startswith(".") and name.endswith(".tmp")):
                continue
            with contextlib.suppress(OSError):
                if not entry.is_file(follow_symlinks=False):
                    continue
                if _owner_gone(name, scope) or entry.stat().st_mtime < limit:
                    os.unlink(entry.path)
                    removed += 1
    return removed


_TMP_COUNTER = itertools.count()
log = logging.getLogger(__name__)


def write_atomically_with(
    path: Path, write: Callable[[BinaryIO], object], *, fsync: bool = False
) -> None:
    """Like :func:`write_atomically`, for writers that stream into a binary file object."""
    fd, tmp = _open_temp(path)
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            if fsync:
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
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


def tighten_private_dir(path: Path) -> None:
    """Make the existing folder ``path`` private as :func:`make_private_dir` makes a new
    one: its group and other permission bits are cleared (0777 becomes 0700). Best effort:
    a folder another user owns, or one whose mode cannot be changed, is left as it is, with
    a warning in the log; a missing one is left alone."""
    try:
        st = os.stat(path)
    except OSError:
        return
    mode = stat.S_IMODE(st.st_mode)
    if not mode & 0o077:
        return
    if st.st_uid != os.geteuid():
        log.warning(
            "%s: others may enter this folder (mode %04o) and another user (uid %d) owns it, "
            "so digest leaves it as it is; make it private (chmod go= %s)",
            path,
            mode,
            st.st_uid,
            path,
        )
        return
    try:
        os.chmod(path, mode & ~0o077)
    except OSError as exc:
        log.warning(
            "%s: others may enter this folder (mode %04o) and digest cannot change that "
            "(%s); make it private (chmod go= %s)",
            path,
            mode,
            exc.strerror,
            path,
        )


def make_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist, else make it 0600."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)


# A process whose working folder was deleted under it (``cd x; rm -rf ../x``) cannot use a
# relative path: every one names nothing, and ``os.getcwd`` raises FileNotFoundError.
CWD_GONE = (
    "the working folder no longer exists (it was deleted); cd to a folder that exists, "
    "or give absolute paths"
)


def working_folder() -> Path | None:
    """The process's working folder (``Path.cwd()``), or None when it was deleted."""
    try:
        return Path.cwd()
    except FileNotFoundError:
        return None


def cwd_gone_for(path: Path) -> bool:
    """Whether ``path`` is relative and the working folder it is relative to is gone (a
    "no such file" for it then says nothing about the file)."""
    return not path.is_absolute() and working_folder() is None


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, a file a person named (an export, a preview): a new file
    is created 0600 whatever the umask; an existing one is truncated and rewritten in place,
    keeping its mode (so ``/dev/stdout`` works too). Raises ``OSError``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


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
            if not text or text.isspace():
                raise FileRefused(f"the file is empty; nothing to {action}")
            return text
    if b"\x00" in data[:65536]:
        raise FileRefused(binary)
    # A UTF-8 BOM is skipped through a memoryview: slicing the bytes (as the "utf-8-sig"
    # codec does) would copy the whole file first.
    skip = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        text = str(memoryview(data)[skip:], "utf-8")
    except UnicodeDecodeError as exc:
        at = exc.start + skip
        raise FileRefused(
            f"not UTF-8 text (byte 0x{data[at]:02x}); save the {what} as UTF-8",
            line=data[:at].count(b"\n") + 1,
        ) from exc
    # Not data.strip(): that copies the whole file (~0.1 s for a 170 MB listing);
    # isspace() stops at the first character that is not a blank.
    if not text or text.isspace():
        raise FileRefused(f"the file is empty; nothing to {action}")
    return text
