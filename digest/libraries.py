"""Library import: the papers a subscriber keeps become liked papers of their profile.

``digest profile import-library``, the admin editor's upload and a TOML import's
``library = "path"`` all call :func:`import_library`: the file is parsed
(:mod:`digest.sources.library`), each entry found in the store by the ingest's identity
rules (arXiv id, else DOI, else title) or stored as a *reference* paper (used for ranking,
never a candidate: see :meth:`digest.store.Store.store_reference_papers`), and the ids are
added to the profile's liked papers as one recorded profile change. Bad entries are one
line each and the rest is imported; a file no format reads changes nothing.

May import records, errors, sources and store (tier of :mod:`digest.subscriptions`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import SubscriberError
from .files import FileRefused, decode_text, read_regular_file
from .profiles import SubscriberEntry
from .records import PaperRecord, Subscriber
from .sources.library import LibraryEntry, arxiv_id_in, clean_doi, parse_library
from .store import Store
from .subscriptions import resolve_paper_ref, save_entries

# Far above a real library (a 10,000-paper BibTeX export is about 10 MB); refuses runaways.
MAX_LIBRARY_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class LibraryImport:
    """What importing one library did: its format, the entries now liked (``liked``,
    of which ``new`` were not liked before and ``stored`` were stored as reference papers)
    and one line per bad entry."""

    format: str
    liked: int
    new: int
    stored: int
    problems: tuple[str, ...]


def read_library(path: Path, *, source: str | None = None) -> str:
    """The text of a library file; :class:`SubscriberError` (one line) when it is not a
    regular file (a folder, pipe or device such as ``/dev/zero``), too big (read bounded:
    :func:`digest.files.read_regular_file`), unreadable, binary or not text."""
    source = source or str(path)
    try:
        data = read_regular_file(path, limit=MAX_LIBRARY_BYTES, what="library")
    except FileRefused as exc:
        raise SubscriberError(f"{source}: {exc}") from exc
    except OSError as exc:
        raise SubscriberError(f"{source}: cannot read the file ({exc.strerror})") from exc
    return decode_library(data, source=source)


def decode_library(data: bytes, *, source: str) -> str:
    """``data`` as text: UTF-8 (a BOM is fine), or UTF-16 / UTF-32 with a BOM, as
    listings are read (:func:`digest.files.decode_text`); :class:`SubscriberError`
    otherwise."""
    if len(data) > MAX_LIBRARY_BYTES:
        raise SubscriberError(f"{source}: over the {MAX_LIBRARY_BYTES:,}-byte limit for a library")
    try:
        return decode_text(
            data,
            what="library",
            action="import",
            binary="a binary file, not a library; export it as text",
        )
    except FileRefused as exc:
        where = f"{source}:{exc.line}" if exc.line else source
        raise SubscriberError(f"{where}: {exc}") from exc


def _record(entry: LibraryEntry) -> PaperRecord:
    # An entry known only by its id is titled by it, so that it has a title key of its own
    # (a later listing of the paper gives it its real title and abstract).
    title = entry.title or (f"arXiv:{entry.arxiv_id}" if entry.arxiv_id else f"doi:{entry.doi}")
    return PaperRecord(
        title=title,
        abstract=entry.abstract,
        arxiv_id=entry.arxiv_id,
        source_id=None if entry.arxiv_id else entry.doi,
        authors=entry.authors,
        url=entry.url if entry.url and entry.url.startswith(("http://", "https://")) else None,
    )


def import_library(
    store: Store,
    email: str,
    text: str,
    *,
    source: str,
    suffix: str = "",
    who: str,
    now: dt.datetime,
) -> LibraryImport:
    """Add the papers of a library file's ``text`` to ``email``'s liked papers.

    Raises :class:`~digest.errors.NotFoundError` for an unknown subscriber and
    :class:`SubscriberError` for a file no format reads (nothing is imported then).
    """
    parsed = parse_library(text, source=source, suffix=suffix)
    subscriber = store.subscriber(email)
    problems = list(parsed.problems)
    records = [_record(e) for e in parsed.entries]
    with store.ingest_lock(), store.transaction():
        before = store.paper_count()
        ids = store.store_reference_papers(records, day=now.date(), now=now)
        stored = store.paper_count() - before
        liked: dict[str, None] = {}  # in order, each once
        for entry, paper_id in zip(parsed.entries, ids, strict=True):
            if paper_id is None:
                problems.append(
                    f"{entry.where}: its title names several stored papers; give its arXiv "
                    "id or DOI"
                )
            else:
                liked[paper_id] = None
        profile = store.profile(subscriber.id)
        known = set(profile.liked)
        new = [p for p in liked if p not in known]
        if new:
            added = set(new)
            changed = dataclasses.replace(
                profile,
                liked=(*profile.liked, *new),
                disliked=tuple(p for p in profile.disliked if p not in added),
            )
            store.save_profile(subscriber.id, changed, who=who, now=now)
    return LibraryImport(parsed.format, len(liked), len(new), stored, tuple(problems))


def store_unknown_paper_refs(
    store: Store, entries: Sequence[SubscriberEntry], *, now: dt.datetime
) -> list[str]:
    """Store the liked and disliked papers of ``entries`` that no stored paper answers as
    reference papers, as :func:`import_library` does for a library's entries: an arXiv id
    (or arXiv URL) by that id, a DOI (``doi:10.…``, a doi.org URL or a bare ``10.…``) by
    that DOI, anything else as a title. This is how an export
    (:func:`digest.subscriptions.portable_paper_refs`) is read into a fresh instance.
    Returns the references stored (each once, in order; a title naming several stored
    papers is left for the resolver to report)."""
    records: list[PaperRecord] = []
    seen: dict[str, None] = {}
    for entry in entries:
        for ref in (*entry.liked, *entry.disliked):
            ref = ref.strip()
            if ref in seen or resolve_paper_ref(store, ref) is not None:
                continue
            seen[ref] = None
            arxiv_id = arxiv_id_in([ref])
            doi = None if arxiv_id else clean_doi(ref)
            if doi and not ref.lower().startswith(("doi:", "http", "10.")):
                doi = None  # a title that happens to contain a DOI is a title
            title = "" if arxiv_id or doi else ref
            records.append(_record(LibraryEntry(ref, title=title, arxiv_id=arxiv_id, doi=doi)))
    if not records:
        return []
    ids = store.store_reference_papers(records, day=now.date(), now=now)
    return [ref for ref, paper_id in zip(seen, ids, strict=True) if paper_id is not None]


def save_entries_with_libraries(
    store: Store,
    entries: Sequence[SubscriberEntry],
    *,
    base: Path,
    who: str,
    now: dt.datetime,
) -> tuple[list[tuple[Subscriber, bool]], list[LibraryImport], list[str]]:
    """:func:`digest.subscriptions.save_entries`, then each entry's ``library`` (a path
    relative to ``base``, the TOML file's folder) imported; all in one transaction. Liked
    and disliked papers not in the store are stored as reference papers first
    (:func:`store_unknown_paper_refs`, whose references are returned third), so an
    export of another instance imports whole.

    Every library file is read and parsed before anything is saved: one that cannot be
    read is a :class:`SubscriberError` naming the subscriber, and nothing is imported.
    """
    texts: dict[str, tuple[str, str, str]] = {}
    for entry in entries:
        if entry.library:
            path = base / entry.library
            try:
                text = read_library(path, source=entry.library)
                parse_library(text, source=entry.library, suffix=path.suffix)
            except SubscriberError as exc:
                raise SubscriberError(f"{entry.email}: library {exc}") from exc
            texts[entry.email] = (text, entry.library, path.suffix)
    with store.ingest_lock(), store.transaction():
        stored = store_unknown_paper_refs(store, entries, now=now)
        results = save_entries(store, entries, who=who, now=now)
        imports = [
            import_library(store, email, text, source=source, suffix=suffix, who=who, now=now)
            for email, (text, source, suffix) in texts.items()
        ]
    return results, imports, stored
