"""Ingest listing files into the store: read, detect the format, parse, store.

Each file is all or nothing (the store commits it in short chunks but publishes its
papers only when the whole file is in), so a file that fails adds nothing while the other
files of the same call still land. A file whose content (sha256) was already ingested is
skipped. ``ingest_inbox`` claims each file (``processing/``), then moves it to
``processed/`` or ``failed/`` (with a ``.error.txt``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import shutil
import sqlite3
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from .errors import AlreadyIngestedError, DigestError, ListingError
from .files import (
    CWD_GONE,
    FileRefused,
    cwd_gone_for,
    decode_text,
    make_private_dir,
    read_regular_file,
    write_atomically,
)
from .progress import NO_PROGRESS, Advance, Progress
from .sources import FORMATS, detect_format, stream_listing
from .store import ListingInfo, ListingRow, Store

log = logging.getLogger(__name__)

T = TypeVar("T")

# The files ``digest ingest FOLDER`` picks up: those with a suffix some format comes in.
LISTING_SUFFIXES = tuple(dict.fromkeys(s for f in FORMATS.values() for s in f.suffixes))
MAX_LISTING_BYTES = 200 * 1024 * 1024  # far above any real listing; refuses runaway files


@dataclass(frozen=True)
class IngestResult:
    """What happened to one file."""

    path: str
    status: str  # "ingested", "skipped" (already ingested) or "failed"
    format: str | None = None
    listing_date: str | None = None
    found: int = 0
    new: int = 0
    updated: int = 0
    duplicates: int = 0
    ambiguous: int = 0  # title-only records naming several papers: not attached
    old_papers: int = 0  # of ``new``: old papers (replacements), never candidates
    revised: int = 0  # records that brought a newer arXiv version of a known paper
    message: str = ""
    # For an ingested file that brought nothing new: a stale feed or an empty one.
    note: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "failed"


def listing_note(
    source: str, *, found: int, new: int, updated: int, ambiguous: int, revised: int
) -> str:
    """What to say about a listing that brought no new paper, else ``""``.

    An empty feed (no items) is how arXiv marks a day without announcements (a weekend,
    a holiday); a feed whose every paper was already known, that changed none of them
    (no update, no new version, no old paper announced new), is more likely one that was
    not updated (a cached or re-saved file): worth a look.
    """
    if found == 0:
        return f"{source} had no papers: a holiday or an empty feed"
    if new == 0 and updated == 0 and ambiguous == 0 and revised == 0:
        return f"every paper in {source} was already known: a stale feed?"
    return ""


def read_listing_bytes(path: Path, *, source: str | None = None) -> bytes:
    """Read a listing file (a regular file of at most :data:`MAX_LISTING_BYTES`, read
    bounded: :func:`digest.files.read_regular_file`); :class:`ListingError` otherwise."""
    source = source or str(path)
    try:
        return read_regular_file(path, limit=MAX_LISTING_BYTES, what="listing")
    except FileRefused as exc:
        raise ListingError(str(exc), source=source) from exc
    except OSError as exc:
        raise ListingError(f"cannot read the file ({exc.strerror})", source=source) from exc


def decode_listing(data: bytes, *, source: str) -> str:
    """The text of a listing file: UTF-8 (with or without a BOM), or UTF-16 / UTF-32 with
    a BOM (as Windows tools save text). Empty, binary and other files are errors
    (:func:`digest.files.decode_text`, shared with library files)."""
    try:
        return decode_text(
            data,
            what="listing",
            action="ingest",
            binary="this is a binary file, not a listing; expected text, JSON or an arXiv feed",
        )
    except FileRefused as exc:
        raise ListingError(str(exc), source=source, line=exc.line) from exc


def inbox_files(inbox: Path) -> list[Path]:
    """The files waiting in ``inbox``, sorted: every file that is not hidden, whatever its
    suffix (a file put in the inbox is meant to be ingested; one that is not a listing
    goes to ``failed/`` saying why). Symbolic links are left alone: the inbox is a drop
    folder, and a link in it could make the scheduled run read (and move) any file the
    process can read."""
    waiting = []
    for path in sorted(inbox.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        if path.is_symlink():
            log.warning("%s: a symbolic link in the inbox; not ingested (copy the file in)", path)
            continue
        waiting.append(path)
    return waiting


def iter_listing_files(paths: Iterable[Path]) -> Iterator[Path | IngestResult]:
    """Files as given, and the listing files inside given folders (sorted, not recursive);
    a folder that cannot be listed (no permission, gone meanwhile) is a failed result."""
    for path in paths:
        if path.is_dir():
            try:
                children = sorted(path.iterdir())
            except OSError as exc:
                reason = exc.strerror or str(exc)
                yield IngestResult(
                    path=str(path),
                    status="failed",
                    message=f"{path}: cannot list the folder ({reason})",
                )
                continue
            for child in children:
                if child.is_file() and child.suffix.lower() in LISTING_SUFFIXES:
                    yield child
        else:
            yield path


def ingest_file(
    store: Store,
    path: Path,
    *,
    today: dt.date,
    fmt: str | None = None,
    listing_date: dt.date | None = None,
    now: dt.datetime,
    source: str | None = None,
    progress: Progress = NO_PROGRESS,
    cross_lists: bool = True,
) -> IngestResult:
    """Ingest one file. ``today`` is the ingest day (``first_seen`` of new papers);
    ``listing_date`` is used when the file carries no date of its own (default: today);
    ``source`` names the file in the store and in messages (default: ``path``);
    ``progress`` hears of each record stored; ``cross_lists`` (config
    ``ingest.cross_lists``): whether arXiv's cross-lists of unknown papers are new papers.

    Holds the store's ingest lock from the "already ingested?" check to the end, so two
    processes ingesting the same content ingest it once."""
    with store.ingest_lock():
        return _ingest_file(
            store,
            path,
            today=today,
            fmt=fmt,
            listing_date=listing_date,
            now=now,
            source=source,
            progress=progress,
            cross_lists=cross_lists,
        )


def _ingest_file(
    store: Store,
    path: Path,
    *,
    today: dt.date,
    fmt: str | None,
    listing_date: dt.date | None,
    now: dt.datetime,
    source: str | None,
    progress: Progress,
    cross_lists: bool,
) -> IngestResult:
    source = source or str(path)
    sha = ""
    detected: str | None = fmt
    try:
        data = read_listing_bytes(path, source=source)
        sha, decoded = _hash_and_decode(data, source=source)
        del data  # a large file should not be held twice
        already = store.ingested_listing(sha)
        if already is not None:
            return _skipped(source, already)
        if isinstance(decoded, ListingError):
            raise decoded
        text = decoded
        detected = fmt or detect_format(text, source=source)
        parsed = stream_listing(text, source=source, today=today, fmt=detected)
        date = parsed.date or (listing_date or today).isoformat()
        with progress.step(f"{path.name}: records") as advance:
            counts = store.ingest_listing(
                ListingInfo(
                    path=source,
                    sha256=sha,
                    format=parsed.format,
                    listing_date=dt.date.fromisoformat(date),
                ),
                _counted(parsed.records, advance),
                first_seen=today,
                now=now,
                cross_lists=cross_lists,
            )
    except AlreadyIngestedError:  # the same content, ingested meanwhile by another process
        already = store.ingested_listing(sha)
        if already is None:
            raise
        return _skipped(source, already)
    except ListingError as exc:
        if sha:
            store.record_failed_listing(
                path=source, sha256=sha, error=str(exc), fmt=detected, now=now
            )
        log.info("failed to ingest %s: %s", source, exc)
        return IngestResult(path=source, status="failed", format=detected, message=str(exc))
    log.info("ingested %s: %d listings, %d new papers", source, counts.found, counts.new)
    return IngestResult(
        path=source,
        status="ingested",
        format=parsed.format,
        listing_date=date,
        found=counts.found,
        new=counts.new,
        updated=counts.updated,
        duplicates=counts.duplicates,
        ambiguous=counts.ambiguous,
        old_papers=counts.old_papers,
        revised=counts.revised,
        note=listing_note(
            source,
            found=counts.found,
            new=counts.new,
            updated=counts.updated,
            ambiguous=counts.ambiguous,
            revised=counts.revised,
        ),
    )


def _hash_and_decode(data: bytes, *, source: str) -> tuple[str, str | ListingError]:
    """The SHA-256 (hex) of a listing file's bytes and its text (or why it has none: see
    :func:`decode_listing`). The hash is computed on a helper thread while this one
    decodes: hashlib releases the GIL for large buffers, and each takes ~0.1 s for a
    170 MB listing."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="digest-sha256") as pool:
        hashing = pool.submit(lambda: hashlib.sha256(data).hexdigest())
        try:
            decoded: str | ListingError = decode_listing(data, source=source)
        except ListingError as exc:
            decoded = exc
        return hashing.result(), decoded


def _counted(records: Iterable[T], advance: Advance, every: int = 500) -> Iterator[T]:
    """``records``, reporting every ``every`` of them to ``advance``."""
    n = 0
    for n, record in enumerate(records, start=1):
        if n % every == 0:
            advance(every)
        yield record
    advance(n % every)


def _skipped(source: str, already: ListingRow) -> IngestResult:
    return IngestResult(
        path=source,
        status="skipped",
        format=already.format,
        listing_date=already.listing_date,
        message=f"already ingested (as {already.path} on {already.ingested_at[:10]})",
    )


def ingest_paths(
    store: Store,
    paths: Iterable[Path],
    *,
    today: dt.date,
    now: dt.datetime,
    fmt: str | None = None,
    listing_date: dt.date | None = None,
    progress: Progress = NO_PROGRESS,
    cross_lists: bool = True,
) -> list[IngestResult]:
    """Ingest files and folders; one result per file, failures included (``cross_lists``:
    see :func:`ingest_file`)."""
    results: list[IngestResult] = []
    files = list(iter_listing_files(paths))
    with progress.step("ingesting", total=len(files)) as advance:
        for path in files:
            if isinstance(path, IngestResult):
                results.append(path)
            elif not path.exists():
                missing = CWD_GONE if cwd_gone_for(path) else "no such file or folder"
                results.append(
                    IngestResult(path=str(path), status="failed", message=f"{path}: {missing}")
                )
            else:
                advance(0, description=f"ingesting {path.name}")
                results.append(
                    _ingest_set_aside(
                        store,
                        path,
                        source=str(path),
                        today=today,
                        fmt=fmt,
                        listing_date=listing_date,
                        now=now,
                        progress=progress,
                        cross_lists=cross_lists,
                    )
                )
            advance()
    return results


def ingest_inbox(
    store: Store,
    inbox: Path,
    *,
    today: dt.date,
    now: dt.datetime,
    fmt: str | None = None,
    listing_date: dt.date | None = None,
    progress: Progress = NO_PROGRESS,
    cross_lists: bool = True,
) -> list[IngestResult]:
    """Ingest every file waiting in ``inbox``; move each to ``processed/`` or ``failed/``
    (``cross_lists``: see :func:`ingest_file`).

    A failed file gets ``NAME.error.txt`` beside it saying what was wrong. Files already
    ingested (same content) count as processed.

    Each file is first claimed: renamed (atomically) into ``processing/`` under this
    process's id. Two processes working the same inbox thus divide its files, never
    ingest one twice, and wait for each other only at the store's ingest lock. Files a
    dead process had claimed go back to the inbox first.
    """
    processed, failed = inbox / "processed", inbox / "failed"
    processing = inbox / "processing"
    for folder in (processed, failed, processing):
        make_private_dir(folder)
    _release_dead_claims(inbox, processing)
    results = []
    waiting = inbox_files(inbox)
    with progress.step("ingesting the inbox", total=len(waiting)) as advance:
        for path in waiting:
            claimed = processing / f"{os.getpid()}.{path.name}"
            try:
                os.rename(path, claimed)
            except FileNotFoundError:
                advance()
                continue  # another process claimed it first
            advance(0, description=f"ingesting {path.name}")
            result = _ingest_set_aside(
                store,
                claimed,
                today=today,
                fmt=fmt,
                listing_date=listing_date,
                now=now,
                source=str(path),
                progress=progress,
                cross_lists=cross_lists,
            )
            results.append(_file_away(result, path.name, claimed, processed, failed))
            advance()
    return results


def _ingest_set_aside(store: Store, path: Path, *, source: str, **options: Any) -> IngestResult:
    """:func:`ingest_file`, with an unexpected error (a bug: say, a value the store cannot
    hold) a failed result of one line, so the file goes to ``failed/`` and the other
    files, and every later run, go on. The store has already undone the file's part.

    Errors of the surroundings rather than the file (the store's own, the disk's, a
    locked database) are raised: setting every file aside would not mend them."""
    try:
        return ingest_file(store, path, source=source, **options)
    except (DigestError, OSError, sqlite3.OperationalError):
        raise
    except Exception as exc:
        detail = " ".join(str(exc).split())[:200]
        message = (
            f"{source}: unexpected error while ingesting ({type(exc).__name__}: {detail}); "
            "the file was set aside in failed/: report it as a bug, with the file"
        )
        log.error("%s", message)
        log.debug("the traceback of %s", source, exc_info=True)
        return IngestResult(path=source, status="failed", message=message)


def _file_away(
    result: IngestResult, name: str, claimed: Path, processed: Path, failed: Path
) -> IngestResult:
    """Move an ingested file to ``processed/`` or ``failed/`` (with its ``.error.txt``)."""
    target = _free_name((failed if result.failed else processed) / name)
    shutil.move(str(claimed), target)
    if result.failed:
        write_atomically(
            target.with_name(target.name + ".error.txt"), (result.message + "\n").encode()
        )
    return replace(result, path=str(target))


def _release_dead_claims(inbox: Path, processing: Path) -> None:
    """Move files claimed by processes that are gone back into the inbox."""
    for claimed in sorted(processing.iterdir()):
        pid_text, dot, name = claimed.name.partition(".")
        if not (dot and pid_text.isdecimal()) or _alive(int(pid_text)):
            continue
        try:
            os.rename(claimed, _free_name(inbox / name))
        except FileNotFoundError:
            continue  # another process released it first


def _alive(pid: int) -> bool:
    """Whether a process with this id exists (one of another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _free_name(target: Path) -> Path:
    """``target``, or ``name-2.ext``, ``name-3.ext`` … if a file of that name is there."""
    candidate, n = target, 1
    while candidate.exists():
        n += 1
        candidate = target.with_name(f"{target.stem}-{n}{target.suffix}")
    return candidate
