"""Papers and listings: the ingest of a listing (with its background full-text indexer)
and every query about papers.

Owns the tables ``papers``, ``papers_fts``, ``listings`` and ``paper_listings``. An ingest
is one transaction: records are identified and merged by :mod:`digest.store.merge` (pure)
chunk by chunk, and each chunk's new papers are indexed for full-text search on a helper
thread while the next chunk is parsed.

May import: the standard library, ``sqlite_utils``, :mod:`digest.errors`,
:mod:`digest.sources` (identity helpers), :mod:`digest.records` and the store's ``db``,
``schema`` and ``merge`` modules.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from ..errors import NotFoundError, StoreError
from ..records import Paper, PaperRecord, paper_text
from ..sources import arxiv_id_from, normalize_title
from .db import StoreBase, day_text, in_chunks, stamp
from .merge import PAPER_COLUMNS, UPDATED_COLUMNS, Merge, chunks, identify, paper_values
from .schema import FTS_INSERT_TRIGGER

_INGEST_CHUNK = 5000  # records identified, looked up, merged and inserted together
_INSERT_PAPER = (
    f"INSERT INTO papers ({', '.join(PAPER_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(PAPER_COLUMNS))})"
)


@dataclass(frozen=True)
class ListingInfo:
    """What the store records about one listing file."""

    path: str
    sha256: str
    format: str
    listing_date: dt.date | None


@dataclass(frozen=True)
class IngestCounts:
    """What ingesting one listing did to ``papers``."""

    found: int
    new: int
    updated: int
    duplicates: int


@dataclass(frozen=True)
class ListingRow:
    """One row of ``listings``: a file ingested or tried."""

    id: int
    path: str
    sha256: str
    format: str | None
    listing_date: str | None
    found: int
    new_papers: int
    updated_papers: int
    duplicates: int
    ingested_at: str
    status: str
    error: str | None


def select_papers(db: sqlite_utils.Database, clause: str, args: Sequence[Any]) -> list[Paper]:
    """Papers of ``papers p`` filtered and ordered by ``clause``, with their latest
    listing date."""
    sql = (
        "SELECT p.id, p.title, p.abstract, p.authors, p.url, p.published, p.upvotes, "
        "p.first_seen, (SELECT max(l.listing_date) FROM paper_listings pl "
        "JOIN listings l ON l.id = pl.listing_id WHERE pl.paper_id = p.id) AS listing_date "
        f"FROM papers p {clause}"
    )
    return [
        Paper(
            id=row["id"],
            title=row["title"],
            abstract=row["abstract"],
            authors=tuple(json.loads(row["authors"])),
            url=row["url"],
            published=row["published"],
            upvotes=row["upvotes"],
            first_seen=row["first_seen"],
            listing_date=row["listing_date"],
        )
        for row in db.query(sql, args)
    ]


class PaperStore(StoreBase):
    """Listings and papers: ingest and queries."""

    # --- ingest ---------------------------------------------------------------------------

    def ingested_listing(self, sha256: str) -> ListingRow | None:
        """The successful ingest of a file with this content, if any."""
        rows = self._listings("WHERE sha256 = ? AND status = 'ingested'", [sha256])
        return rows[0] if rows else None

    def record_failed_listing(
        self, *, path: str, sha256: str, error: str, fmt: str | None, now: dt.datetime
    ) -> None:
        """Remember a file that could not be ingested, and why."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO listings (path, sha256, format, ingested_at, status, error) "
                "VALUES (?, ?, ?, ?, 'failed', ?)",
                [path, sha256, fmt, stamp(now), error],
            )

    def ingest_listing(
        self,
        listing: ListingInfo,
        records: Iterable[PaperRecord],
        *,
        first_seen: dt.date,
        now: dt.datetime,
    ) -> IngestCounts:
        """Store one listing and its papers in one transaction, deduplicating papers.

        A record is the same paper as a stored one when their ids or normalized titles
        match. A repeat keeps ``first_seen``, fills in what was missing (a better id,
        authors, url, published, categories) and takes the latest upvotes. Records are
        taken in chunks (identified, looked up, merged, inserted), so a long stream needs
        no more lookups in memory than one chunk; an error anywhere rolls it all back.
        Each chunk's new papers go into the full-text index in one statement, on a helper
        thread while the next chunk is read (see :class:`_BackgroundIndexer`).
        """
        conn = self.db.conn
        first_seen_text, now_text = day_text(first_seen), stamp(now)
        with (
            self.transaction(),
            _BackgroundIndexer(self._index_papers_after, self._suspend_fts_trigger()) as indexer,
        ):
            merge = Merge()
            position = 0
            # Reading a chunk runs the parser (records is a lazy stream), which overlaps
            # the indexing of the chunk before it.
            for chunk in chunks(records, _INGEST_CHUNK):
                prepared = [identify(record) for record in chunk]
                indexer.wait()  # the connection is ours again
                merge.learn(
                    self._papers_matching(
                        {p.id for p in prepared} - merge.rows_by_id.keys(),
                        {p.title_key for p in prepared} - merge.rows_by_key.keys(),
                    )
                )
                for item in prepared:
                    merge.add(item, position, first_seen=first_seen_text, now=now_text)
                    position += 1
                new_rows = merge.take_new_rows()
                if new_rows:
                    conn.executemany(_INSERT_PAPER, [paper_values(r) for r in new_rows])
                    indexer.index_new_papers()
            indexer.wait()
            cursor = conn.execute(
                "INSERT INTO listings (path, sha256, format, listing_date, found, new_papers, "
                "updated_papers, duplicates, ingested_at, status) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'ingested')",
                [
                    listing.path,
                    listing.sha256,
                    listing.format,
                    day_text(listing.listing_date) if listing.listing_date else None,
                    position,
                    merge.created,
                    merge.updated,
                    merge.duplicates,
                    now_text,
                ],
            )
            listing_id = cursor.lastrowid
            self._write_changes(merge)
            conn.executemany(
                "INSERT OR IGNORE INTO paper_listings (listing_id, paper_id, position) "
                "VALUES (?, ?, ?)",
                [(listing_id, row["id"], pos) for row, pos in merge.placements],
            )
            conn.execute(FTS_INSERT_TRIGGER)
        return IngestCounts(
            found=position,
            new=merge.created,
            updated=merge.updated,
            duplicates=merge.duplicates,
        )

    def _suspend_fts_trigger(self) -> int:
        """Drop the FTS insert trigger inside this transaction (:meth:`ingest_listing`
        indexes its papers itself, then creates it again); the rowid up to which papers
        are indexed (every paper, so far)."""
        self.db.conn.execute("DROP TRIGGER papers_ai")
        return self._last_paper_rowid()

    def _index_papers_after(self, rowid: int) -> int:
        """Index the papers inserted after ``rowid`` (rowids only grow inside this
        transaction, which no other writer can enter); the new high-water mark."""
        self.db.conn.execute(
            "INSERT INTO papers_fts (rowid, title, abstract) "
            "SELECT rowid, title, abstract FROM papers WHERE rowid > ?",
            [rowid],
        )
        return self._last_paper_rowid()

    def _last_paper_rowid(self) -> int:
        (last,) = self.db.conn.execute("SELECT coalesce(max(rowid), 0) FROM papers").fetchone()
        return int(last)

    def _papers_matching(self, ids: set[str], keys: set[str]) -> list[dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for column, values in (("id", sorted(ids)), ("title_key", sorted(keys))):
            for chunk, marks in in_chunks(values):
                for row in self.db.query(
                    f"SELECT * FROM papers WHERE {column} IN ({marks})", chunk
                ):
                    found[row["id"]] = dict(row)
        return list(found.values())

    def _write_changes(self, merge: Merge) -> None:
        """Renames, then field updates, of rows written before this listing or earlier in
        it that a later record changed."""
        conn = self.db.conn
        for old_id, new_id in merge.renames:
            # ON UPDATE CASCADE carries the new id into paper_listings and friends.
            conn.execute("UPDATE papers SET id = ?, id_kind = ? WHERE id = ?", [*new_id, old_id])
        if merge.dirty:
            sets = ", ".join(f"{c} = ?" for c in UPDATED_COLUMNS)
            conn.executemany(
                f"UPDATE papers SET {sets} WHERE id = ?",
                [(*(r[c] for c in UPDATED_COLUMNS), r["id"]) for r in merge.dirty.values()],
            )

    # --- listings -------------------------------------------------------------------------

    def listings(self, *, status: str | None = None, limit: int | None = None) -> list[ListingRow]:
        where, args = ("WHERE status = ?", [status]) if status else ("", [])
        suffix = f" LIMIT {int(limit)}" if limit else ""
        return self._listings(f"{where} ORDER BY id DESC{suffix}", args)

    def paper_listings(self, paper_id: str) -> list[ListingRow]:
        return self._listings(
            "WHERE id IN (SELECT listing_id FROM paper_listings WHERE paper_id = ?) ORDER BY id",
            [paper_id],
        )

    def _listings(self, clause: str, args: Sequence[Any]) -> list[ListingRow]:
        return [
            ListingRow(**row)
            for row in self.db.query(
                "SELECT id, path, sha256, format, listing_date, found, new_papers, "
                f"updated_papers, duplicates, ingested_at, status, error FROM listings {clause}",
                args,
            )
        ]

    # --- papers ---------------------------------------------------------------------------

    def paper_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM papers").fetchone()[0])

    def corpus_fingerprint(self) -> str:
        """Changes whenever a paper is added, renamed or edited (``max(updated_at)`` is a
        change marker here, not a time: its text is not compared with anything)."""
        row = self.db.execute(
            "SELECT count(*), coalesce(max(rowid), 0), coalesce(max(updated_at), '') FROM papers"
        ).fetchone()
        return f"{row[0]}:{row[1]}:{row[2]}"

    def iter_paper_texts(self) -> Iterator[str]:
        """Title and abstract of every paper, for fitting the ranker's vocabulary."""
        for title, abstract in self.db.execute("SELECT title, abstract FROM papers ORDER BY rowid"):
            yield paper_text(title, abstract)

    def papers(
        self,
        *,
        since: dt.date | None = None,
        until: dt.date | None = None,
        limit: int | None = None,
    ) -> list[Paper]:
        """Papers first seen in [since, until] (both optional), newest first."""
        clauses, args = [], []
        if since:
            clauses.append("p.first_seen >= ?")  # YYYY-MM-DD compares as text correctly
            args.append(day_text(since))
        if until:
            clauses.append("p.first_seen <= ?")
            args.append(day_text(until))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        suffix = f" LIMIT {int(limit)}" if limit else ""
        return self._papers(f"{where} ORDER BY p.first_seen DESC, p.rowid{suffix}", args)

    def paper_page(self, *, offset: int, limit: int) -> list[Paper]:
        """One page of papers, newest first (the order of :meth:`papers`)."""
        return self._papers(
            "ORDER BY p.first_seen DESC, p.rowid LIMIT ? OFFSET ?", [int(limit), int(offset)]
        )

    def papers_by_id(self, ids: Iterable[str]) -> dict[str, Paper]:
        result: dict[str, Paper] = {}
        for chunk, marks in in_chunks(sorted(set(ids))):
            for paper in self._papers(f"WHERE p.id IN ({marks})", chunk):
                result[paper.id] = paper
        return result

    def paper(self, paper_id: str) -> Paper:
        """One paper by id (a versioned arXiv id such as ``2305.07922v2`` also works)."""
        candidates = [paper_id, arxiv_id_from(paper_id) or paper_id]
        for candidate in candidates:
            found = self.papers_by_id([candidate])
            if found:
                return found[candidate]
        raise NotFoundError(f"no paper with id {paper_id!r}; try `digest papers search`")

    def paper_by_title(self, title: str) -> Paper | None:
        """The paper whose normalized title equals that of ``title``."""
        rows = self._papers("WHERE p.title_key = ?", [normalize_title(title)])
        return rows[0] if rows else None

    def paper_exists(self, paper_id: str) -> bool:
        row = self.db.execute("SELECT 1 FROM papers WHERE id = ?", [paper_id]).fetchone()
        return row is not None

    def resolve_paper_ref(self, ref: str) -> str | None:
        """A paper id for ``ref``: a stored id (versioned arXiv ids too) or an exact title."""
        ref = ref.strip()
        for candidate in (ref, arxiv_id_from(ref)):
            if candidate and self.paper_exists(candidate):
                return candidate
        paper = self.paper_by_title(ref)
        return paper.id if paper else None

    def search_papers(self, query: str, *, limit: int = 20) -> list[Paper]:
        """Full-text search over title and abstract, best match first."""
        words = [w for w in query.replace('"', " ").split() if w]
        if not words:
            return []
        # Quote every word so user input cannot be read as FTS5 syntax.
        match = " ".join(f'"{w}"' for w in words)
        try:
            return self._papers(
                "JOIN papers_fts f ON f.rowid = p.rowid WHERE papers_fts MATCH ? "
                f"ORDER BY f.rank LIMIT {int(limit)}",
                [match],
            )
        except sqlite3.OperationalError as exc:
            raise StoreError(f"cannot search for {query!r}: {exc}") from exc

    def new_paper_count(self, day: dt.date) -> int:
        """Papers first seen on ``day``."""
        return int(
            self.db.execute(
                "SELECT count(*) FROM papers WHERE first_seen = ?", [day_text(day)]
            ).fetchone()[0]
        )

    def trending(self, day: dt.date, *, limit: int) -> list[Paper]:
        """The day's new papers with the most upvotes (not personalised)."""
        if limit <= 0:
            return []
        return self._papers(
            "WHERE p.first_seen = ? AND p.upvotes IS NOT NULL AND p.upvotes > 0 "
            f"ORDER BY p.upvotes DESC, p.rowid LIMIT {int(limit)}",
            [day_text(day)],
        )

    def _papers(self, clause: str, args: Sequence[Any]) -> list[Paper]:
        return select_papers(self.db, clause, args)


class _BackgroundIndexer:
    """Indexes (FTS5) each chunk's new papers on a helper thread while the ingest parses
    the next chunk: SQLite tokenizes without holding Python's GIL, so the two run at once
    on two cores. One thread at a time uses the connection: the ingest calls :meth:`wait`
    before it touches it again, and leaving the block waits too (also on an error, before
    the transaction is rolled back)."""

    def __init__(self, index_after: Callable[[int], int], since_rowid: int) -> None:
        self._index_after = index_after
        self._since = since_rowid
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digest-fts")
        self._pending: Future[int] | None = None

    def __enter__(self) -> _BackgroundIndexer:
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
        """Start indexing the papers inserted since the last call."""
        self.wait()
        self._pending = self._pool.submit(self._index_after, self._since)

    def wait(self) -> None:
        """Until the indexing started last has finished; raises its error."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._since = pending.result()
