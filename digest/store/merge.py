"""Paper identity and the merge of a listing's records into stored papers: pure code.

Owns the one point every record passes on its way in (listings and library imports):
:func:`identify` strips bidirectional controls from its text
(:func:`digest.text.strip_bidi_controls`). Owns how a record gets its paper id (arXiv id,
else the listing's own id, else a hash of the normalized title), which stored paper a
record is (its id, else any title the paper was seen under: never a paper with a different
arXiv id, and never one of several papers sharing the title), how a repeat fills in a
stored paper (a newer arXiv version replaces title, abstract and authors, a paper of no
known version counting as older than any; an older one or one naming no version changes
no text), whether a new paper is new (arXiv's announce types: a replacement of a
paper never seen is an old paper, stored but never a candidate) and the counts of new,
updated, duplicate and ambiguous records. Rows are plain dicts keyed by the ``papers``
columns; there is no SQL here (:mod:`digest.store.papers` reads and writes them).

May import: the standard library, :mod:`digest.sources` (identity helpers),
:mod:`digest.text` and :mod:`digest.records`. Nothing else from the store.
"""

from __future__ import annotations

import dataclasses
import hashlib
import operator
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any

from ..records import REPLACEMENT_TYPES, PaperRecord
from ..sources import arxiv_id_from, arxiv_id_month, normalize_title
from ..text import strip_bidi_controls

ID_KIND_RANK = {"title": 0, "source": 1, "arxiv": 2}

PAPER_COLUMNS = (
    "id",
    "id_kind",
    "title",
    "abstract",
    "title_key",
    "authors",
    "url",
    "published",
    "upvotes",
    "categories",
    "first_seen",
    "updated_at",
    "version",
    "is_new",
    "reference",  # 1: from a library import, never a candidate until a listing carries it
)
# What a repeat can change in a stored paper (its id changes through a rename first).
UPDATED_COLUMNS = (
    "authors",
    "url",
    "published",
    "upvotes",
    "categories",
    "version",
    "is_new",
    "first_seen",
    "updated_at",
)
# What a newer version changes besides: written apart, because a change of title or
# abstract re-indexes the paper for full-text search (schema's papers_au trigger).
TEXT_COLUMNS = ("title", "abstract", "title_key")


@dataclass(frozen=True, slots=True)
class Identified:
    """A record with the identity it will be stored under."""

    record: PaperRecord
    id: str
    id_kind: str
    title_key: str


_PAPER_VALUES = operator.itemgetter(*PAPER_COLUMNS)


def paper_values(row: dict[str, Any]) -> tuple[Any, ...]:
    """A row's values in the order of :data:`PAPER_COLUMNS`."""
    return _PAPER_VALUES(row)  # type: ignore[no-any-return]


def chunks(records: Iterable[PaperRecord], size: int) -> Iterator[list[PaperRecord]]:
    """``records`` in lists of ``size`` (the last may be shorter), read lazily."""
    chunk: list[PaperRecord] = []
    for record in records:
        chunk.append(record)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def json_list(values: Sequence[str]) -> str:
    """``json.dumps(list(values), ensure_ascii=False)`` for strings, without building an
    encoder per call (a third of the cost of storing a record's authors)."""
    if not values:
        return "[]"
    return "[" + ", ".join(map(encode_basestring, values)) + "]"


def _no_bidi(text: str) -> bool:
    return text.isascii() or text.isprintable()


def without_bidi_controls(record: PaperRecord) -> PaperRecord:
    """``record`` with no bidirectional controls in its title, abstract or authors (spaces
    collapsed where one was taken out); ``record`` itself when it had none."""
    # ASCII has no bidi control and one is never printable: the usual record is checked
    # in C (isascii at memory speed, all its text at once), with one copy.
    if "".join((record.title, record.abstract, *record.authors)).isascii() or (
        _no_bidi(record.title) and _no_bidi(record.abstract) and all(map(_no_bidi, record.authors))
    ):
        return record
    title, abstract = strip_bidi_controls(record.title), strip_bidi_controls(record.abstract)
    authors = tuple(strip_bidi_controls(name) for name in record.authors)
    if (
        title is record.title
        and abstract is record.abstract
        and all(a is b for a, b in zip(authors, record.authors, strict=True))
    ):
        return record  # the usual case: nothing to copy
    names = (" ".join(name.split()) for name in authors)
    return dataclasses.replace(
        record,
        title=" ".join(title.split()),
        abstract=" ".join(abstract.split()),
        authors=tuple(name for name in names if name),
    )


def identify(record: PaperRecord) -> Identified:
    """A record's paper id: arXiv id, else the listing's own id, else a title hash; its
    text is stripped of bidirectional controls first (:func:`without_bidi_controls`)."""
    record = without_bidi_controls(record)
    title_key = normalize_title(record.title)
    arxiv = (
        record.arxiv_id  # the parsers give it without its version already
        or (arxiv_id_from(record.source_id) if record.source_id else None)
        or (arxiv_id_from(record.url) if record.url else None)
    )
    if arxiv:
        return Identified(record, arxiv, "arxiv", title_key)
    if record.source_id and record.source_id.strip():
        return Identified(record, record.source_id.strip(), "source", title_key)
    digest = hashlib.sha256(title_key.encode("utf-8")).hexdigest()[:16]
    return Identified(record, f"t:{digest}", "title", title_key)


class Merge:
    """Folds records into the papers already stored.

    The store makes one per chunk of a listing, so memory stays bounded by the chunk:
    rows of earlier chunks are read back from the database like any stored row. New rows
    are handed out by :meth:`take_new_rows` and inserted; a stored row that a record
    changes is in :attr:`dirty` (or :attr:`renames`) to be updated.
    """

    def __init__(self, *, cross_lists: bool = True) -> None:
        # Whether a cross-list (announce type "cross") of a paper never seen is a new paper.
        self.cross_lists = cross_lists
        self.rows_by_id: dict[str, dict[str, Any]] = {}
        # Rows by the key of every title they were seen under: several papers (different
        # arXiv ids) may share one.
        self.rows_by_key: dict[str, list[dict[str, Any]]] = {}
        self.renames: list[tuple[str, tuple[str, str]]] = []
        self.dirty: dict[int, dict[str, Any]] = {}  # written rows to update, by identity
        self.retitled: dict[int, dict[str, Any]] = {}  # written rows whose text changed
        self.new_titles: list[tuple[dict[str, Any], str, str]] = []  # (row, key, title)
        self.old_papers = 0  # new rows that are old papers (replacements): not candidates
        self.revised = 0  # records that brought a newer version of a stored paper
        # Written title-only rows found to be an arXiv paper: (that row, the paper's row).
        self.absorbed: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self._into: dict[int, dict[str, Any]] = {}  # absorbed row (by identity) → its paper
        # Stored rows found to be a paper this listing created: (that row, the new row),
        # folded when the listing is published (see _absorb).
        self.deferred_folds: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self.placements: list[tuple[dict[str, Any], int]] = []
        self.created = 0
        self.updated = 0
        self.duplicates = 0
        self.ambiguous = 0  # records with no arXiv id whose title names several papers
        self._created_here: set[int] = set()  # rows this listing created (for the counts)
        self._unwritten: list[dict[str, Any]] = []
        # Reference papers (see digest.store.schema, migration 012) this listing carries:
        # its publish makes them normal papers; their text is the listing's from now on.
        self.listed_references: list[dict[str, Any]] = []
        self.retexts: dict[int, dict[str, Any]] = {}
        self._unwritten_ids: set[int] = set()

    def learn(
        self,
        stored: list[dict[str, Any]],
        *,
        titles: Iterable[tuple[str, str]] = (),
        created_here: bool = False,
    ) -> None:
        """Remember rows read from the database, and ``titles``, (paper id, title key)
        pairs of their other titles; ``created_here``: rows this listing created in an
        earlier chunk (a later record that changes one counts as a duplicate, not as an
        update). One already in memory under its id is the same paper: keep ours."""
        for row in stored:
            if row["id"] not in self.rows_by_id:
                row["_keys"] = set()
                self._index(row)
                if created_here:
                    self._created_here.add(id(row))
        for paper_id, key in titles:
            known = self.rows_by_id.get(paper_id)
            if known is not None:
                self._index_title(known, key)

    def learn_aliases(self, aliases: Iterable[tuple[str, str]]) -> None:
        """Remember ids renamed earlier in this listing: (old id, the paper's id now)."""
        for old_id, paper_id in aliases:
            row = self.rows_by_id.get(paper_id)
            if row is not None:
                self.rows_by_id.setdefault(old_id, row)

    def aliases(self) -> list[tuple[str, str]]:
        """(old id, id now) of every row known here under an id it no longer has."""
        pairs = ((key, self.paper_of(row)["id"]) for key, row in self.rows_by_id.items())
        return [(key, paper_id) for key, paper_id in pairs if key != paper_id]

    def _index(self, row: dict[str, Any]) -> None:
        self.rows_by_id[row["id"]] = row
        self._index_title(row, row["title_key"])

    def _index_title(self, row: dict[str, Any], key: str) -> bool:
        """File ``row`` under the title key ``key``; whether the key was new to it."""
        if key in row["_keys"]:
            return False
        row["_keys"].add(key)
        self.rows_by_key.setdefault(key, []).append(row)
        return True

    def take_new_rows(self) -> list[dict[str, Any]]:
        """Rows created since the last call; from now on they count as written."""
        rows, self._unwritten = self._unwritten, []
        self._unwritten_ids.clear()
        return [row for row in rows if id(row) not in self._into]

    def paper_of(self, row: dict[str, Any]) -> dict[str, Any]:
        """The row that stands for ``row``'s paper: itself, or the one that absorbed it."""
        return self._into.get(id(row), row)

    def _absorb(self, row: dict[str, Any], key: str) -> None:
        """A paper with an arXiv id, newly seen under the title ``key``, is the one
        title-only paper stored under that title (the rule by which a record with an
        arXiv id attaches to a title-only paper): that paper's row is folded into this
        one, keeping the earlier first-seen day, so it is never sent as a paper of its
        own. Several papers under the title are not told apart: none is folded in.

        A paper stored before this listing is folded into one this listing created only
        when the listing is published (:attr:`deferred_folds`): a failed ingest deletes
        the rows it created, and the stored paper must then be as it was. Until then it
        stands for the new row here, in memory, and in later chunks (see
        :meth:`learn_folds`)."""
        if row["id_kind"] != "arxiv":
            return
        others = [r for r in self.rows_by_key.get(key, []) if r is not row]
        if len(others) != 1 or others[0]["id_kind"] == "arxiv":
            return
        (stray,) = others
        row_created, stray_created = id(row) in self._created_here, id(stray) in self._created_here
        # Which of the two this listing counted as an old paper (created as a replacement).
        row_old = row_created and not row["is_new"]
        stray_old = stray_created and not stray["is_new"]
        self._fold(stray, row)
        self.dirty.pop(id(stray), None)
        self.retitled.pop(id(stray), None)
        if row_created and not stray_created:
            # The new row is the stored paper's from now on: not a new paper (and folded
            # in only when the listing is published).
            self.created -= 1
            self.old_papers -= row_old
            self.updated += 1
            self.deferred_folds.append((stray, row))
            return
        if row_old and row["is_new"]:
            self.old_papers -= 1  # new after all: the title-only paper was
        if stray_created:
            self.created -= 1  # created by this listing, and not a paper of its own after all
            self.old_papers -= stray_old
            self.duplicates += 1
        if id(stray) not in self._unwritten_ids:
            self.absorbed.append((stray, row))

    def learn_folds(self, folds: Iterable[tuple[str, str]]) -> None:
        """Remember folds an earlier chunk of this listing deferred to its publish:
        (stored paper's id, the id of the new paper it goes into)."""
        for stray_id, paper_id in folds:
            stray, row = self.rows_by_id.get(stray_id), self.rows_by_id.get(paper_id)
            if stray is not None and row is not None and stray is not row:
                self._fold(stray, row)

    def _fold(self, stray: dict[str, Any], row: dict[str, Any]) -> None:
        """In memory: ``stray`` stands for ``row`` from now on (ids, titles, first seen)."""
        self._into[id(stray)] = row
        for stray_key in stray["_keys"]:
            self.rows_by_key[stray_key].remove(stray)
            self._index_title(row, stray_key)
        self.rows_by_id[stray["id"]] = row  # its id now names the paper (see aliases)
        row["first_seen"] = min(row["first_seen"], stray["first_seen"])
        # A new paper stays new (a candidate) whatever the arXiv listing calls the record
        # it was folded into (a replacement): else it would never be sent.
        row["is_new"] = max(row["is_new"], stray["is_new"])

    def _same_papers(self, item: Identified) -> list[dict[str, Any]]:
        """The stored rows ``item`` may be: its own by id, else those its title names.
        None is a new paper; one is a repeat; several (only for a record without an
        arXiv id) are ambiguous."""
        # A title hash is only the title: it may still name a row renamed to an arXiv id
        # here, so a title-only record goes by the title alone.
        row = self.rows_by_id.get(item.id) if item.id_kind != "title" else None
        if row is not None:
            return [self.paper_of(row)]
        candidates = self.rows_by_key.get(item.title_key, [])
        if item.id_kind == "arxiv":
            # A row under another arXiv id is another paper that happens to share the title;
            # several title-only rows are not told apart by this record either.
            candidates = [r for r in candidates if r["id_kind"] != "arxiv"]
            return candidates if len(candidates) == 1 else []
        return candidates

    def _announced_new(self, record: PaperRecord) -> bool:
        """Whether arXiv announced the record as a new paper: ``new``, or ``cross`` when
        cross-lists are wanted."""
        return record.announce_type == "new" or (
            record.announce_type == "cross" and self.cross_lists
        )

    def _is_old_paper(self, record: PaperRecord) -> bool:
        """Whether a record of a paper never seen is an old paper (not a candidate): a
        replacement, or a cross-list when they are not wanted."""
        return record.announce_type in REPLACEMENT_TYPES or (
            record.announce_type == "cross" and not self.cross_lists
        )

    def add(self, item: Identified, position: int, *, first_seen: str, now: str) -> None:
        """Fold one record in: a new row, or a repeat of a known one. A record without an
        arXiv id whose title names several papers is counted in :attr:`ambiguous` and left
        out: attaching it to one of them could be wrong, and a new row would be sent again."""
        same = self._same_papers(item)
        if len(same) > 1:
            self.ambiguous += 1
            return
        row = same[0] if same else None
        rec = item.record
        if row is None:
            old_paper = self._is_old_paper(rec)
            row = {
                "id": item.id,
                "id_kind": item.id_kind,
                "title": rec.title,
                "abstract": rec.abstract,
                "title_key": item.title_key,
                "authors": json_list(rec.authors),
                "url": rec.url,
                # The paper's own date; where the record has none, the month of its id.
                "published": rec.published
                or (arxiv_id_month(item.id) if item.id_kind == "arxiv" else None),
                "upvotes": rec.upvotes,
                "categories": json_list(rec.categories),
                "first_seen": first_seen,
                "updated_at": now,
                "version": rec.version,
                "is_new": 0 if old_paper else 1,
                "_keys": set(),
                "reference": 0,
            }
            self._index(row)
            self.new_titles.append((row, item.title_key, rec.title))
            self.old_papers += old_paper
            self._unwritten.append(row)
            self._unwritten_ids.add(id(row))
            self._created_here.add(id(row))
            self.created += 1
            self.placements.append((row, position))
            return
        self.placements.append((row, position))
        if row.get("reference"):
            self._list_reference(row, item, first_seen=first_seen)
            if self._index_title(row, item.title_key):
                self.new_titles.append((row, item.title_key, item.record.title))
            return
        new_title = self._index_title(row, item.title_key)
        if new_title:
            self.new_titles.append((row, item.title_key, rec.title))
        changed = self._fill_in(row, item, first_seen=first_seen)
        if new_title or changed:
            folded = len(self._into)
            self._absorb(row, item.title_key)
            changed = changed or len(self._into) > folded
        if changed:
            row["updated_at"] = now
            if id(row) not in self._unwritten_ids:
                self.dirty[id(row)] = row
        # Each record counts once: new, updated (it changed a paper stored before this
        # listing) or duplicate (of a stored paper, or of an earlier record in this listing).
        if changed and id(row) not in self._created_here:
            self.updated += 1
        else:
            self.duplicates += 1

    def _list_reference(self, row: dict[str, Any], item: Identified, *, first_seen: str) -> None:
        """A library's reference paper in a real listing: counted new (it is new to the
        listings), its text and details taken from the listing."""
        row["reference"] = 0
        self._created_here.add(id(row))
        self.created += 1
        self.listed_references.append(row)
        self._fill_in(row, item, first_seen=first_seen)
        rec = item.record
        if rec.abstract.strip() or rec.title != row["title"]:
            row["title"], row["abstract"] = rec.title, rec.abstract
            row["title_key"] = item.title_key
            self.retexts[id(row)] = row
        if id(row) not in self._unwritten_ids:
            self.dirty[id(row)] = row

    def _fill_in(self, row: dict[str, Any], item: Identified, *, first_seen: str) -> bool:
        rec = item.record
        if rec.version is not None and row["version"] is not None and rec.version < row["version"]:
            return False  # an older version, arriving late, changes nothing
        changed = self._take_newer_version(row, item)
        if not row["is_new"] and self._announced_new(rec) and row["first_seen"] == first_seen:
            # Stored today as an old paper (say, an unwanted cross-list) and announced as
            # new by another listing of the same day: new after all.
            row["is_new"] = 1
            changed = True
        if ID_KIND_RANK[item.id_kind] > ID_KIND_RANK[row["id_kind"]] and (
            item.id not in self.rows_by_id
        ):
            old_id = row["id"]
            if id(row) not in self._unwritten_ids:
                self.renames.append((old_id, (item.id, item.id_kind)))
            # The old id stays an alias: a later record under it is the same paper.
            row["id"], row["id_kind"] = item.id, item.id_kind
            self.rows_by_id[item.id] = row
            changed = True
        if rec.authors and row["authors"] == "[]":
            row["authors"] = json_list(rec.authors)
            changed = True
        if rec.categories and row["categories"] == "[]":
            row["categories"] = json_list(rec.categories)
            changed = True
        for field in ("url", "published"):
            value = getattr(rec, field)
            if value and not row[field]:
                row[field] = value
                changed = True
        if rec.upvotes is not None and rec.upvotes != row["upvotes"]:
            row["upvotes"] = rec.upvotes
            changed = True
        return changed

    def _take_newer_version(self, row: dict[str, Any], item: Identified) -> bool:
        """A record of a newer arXiv version than the row's replaces its title, abstract
        and authors; whether anything changed. A row of no known version (its listings
        named none, as Hugging Face's daily papers do) counts as older than any named
        version: its text is replaced too. A record naming no version never replaces text.
        """
        rec = item.record
        if rec.version is None or (row["version"] is not None and rec.version <= row["version"]):
            return False
        row["version"] = rec.version
        self.revised += 1
        if (rec.title, rec.abstract) != (row["title"], row["abstract"]):
            row["title"], row["abstract"] = rec.title, rec.abstract
            row["title_key"] = item.title_key
            if id(row) not in self._unwritten_ids:
                self.retitled[id(row)] = row
        if rec.authors:
            row["authors"] = json_list(rec.authors)
        return True
