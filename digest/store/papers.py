"""Papers and listings: the ingest of a listing (with its background full-text indexer)
and the listings' queries; the queries about papers are :mod:`.paper_reads`.

Owns the tables ``papers``, ``papers_fts``, ``listings``, ``paper_listings`` and the
ingest's ``staged_papers`` and ``staged_placements``. An ingest commits chunk by chunk
(records identified and merged by :mod:`digest.store.merge`, pure) with its new papers
hidden until the whole listing is in, then publishes them in one short transaction; a
helper thread indexes each chunk's new papers for full-text search and commits the chunk
(:mod:`.indexer`) while the next chunk is parsed.

May import: the standard library, ``sqlite_utils``, :mod:`digest.errors`,
:mod:`digest.sources` (identity helpers), :mod:`digest.records` and the store's ``db``,
``schema``, ``merge``, ``indexer``, ``ingest_lock``, ``lookups`` and ``paper_reads``
modules.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from ..errors import AlreadyIngestedError
from ..records import PaperRecord
from .db import day_text, in_chunks, stamp
from .indexer import BackgroundIndexer
from .ingest_lock import holding
from .lookups import STAGED_FOLDS, Matches, papers_matching
from .merge import (
    PAPER_COLUMNS,
    TEXT_COLUMNS,
    UPDATED_COLUMNS,
    Merge,
    chunks,
    identify,
    paper_values,
)
from .paper_reads import PaperReads
from .schema import FTS_INSERT_TRIGGER

log = logging.getLogger(__name__)

_INGEST_CHUNK = 5000  # records identified, looked up, merged and written in one transaction
# The WAL is checkpointed (on a thread of its own, see store/indexer.py) after every this
# many chunks: each checkpoint is two fsyncs and copies pages the next chunks rewrite
# (index pages), so after every chunk it cost more than it saved. The chunks' commits only
# append to the WAL meanwhile.
_CHECKPOINT_EVERY = 10
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
    # Records without an arXiv id whose title names several stored papers: left out.
    ambiguous: int = 0
    # Of ``new``: old papers first seen as a replacement (or an unwanted cross-list),
    # stored for reference and never candidates.
    old_papers: int = 0
    # Records that brought a newer arXiv version of a known paper (among ``updated`` or
    # ``duplicates``).
    revised: int = 0


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


class PaperStore(PaperReads):
    """Listings and papers: ingest and queries."""

    _ingest_lock_depth = 0
    ingest_lock_wait = 600.0  # seconds to wait for another process's ingest, then give up

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

    @contextmanager
    def ingest_lock(self) -> Iterator[None]:
        """Hold the ingest lock: one ingest at a time per database, across processes
        (others wait here, up to :attr:`ingest_lock_wait` seconds, then
        :class:`~digest.errors.StoreError`; see :mod:`.ingest_lock`). Re-entrant within
        this store.

        Every writer of papers holds it, and an ingest keeps it from its first staged row
        to its publish: whoever takes it (not re-entering) finds no ingest alive, so staged
        rows then are a killed ingest's, and are discarded first (:meth:`discard_staged`),
        before the caller reads or writes a paper they would shadow."""
        if self._ingest_lock_depth:
            self._ingest_lock_depth += 1
            try:
                yield
            finally:
                self._ingest_lock_depth -= 1
            return
        # An in-memory store: no other process can reach it, no file to lock.
        with nullcontext() if self.path is None else holding(self.path, self.ingest_lock_wait):
            self._ingest_lock_depth = 1
            try:
                self._discard_dead_ingest()
                yield
            finally:
                self._ingest_lock_depth = 0

    def _discard_dead_ingest(self) -> None:
        """:meth:`discard_staged`, when a staged table has rows (a read otherwise: no write
        transaction for the common case). Called with the ingest lock just taken."""
        (left,) = self.db.conn.execute(
            "SELECT EXISTS (SELECT 1 FROM staged_papers) OR EXISTS "
            "(SELECT 1 FROM staged_placements) OR EXISTS (SELECT 1 FROM staged_aliases) OR "
            "EXISTS (SELECT 1 FROM staged_references) OR EXISTS (SELECT 1 FROM staged_folds)"
        ).fetchone()
        if left:
            discarded = self.discard_staged()
            log.info("discarded %d staged papers a killed ingest left", discarded)

    def ingest_listing(
        self,
        listing: ListingInfo,
        records: Iterable[PaperRecord],
        *,
        first_seen: dt.date,
        now: dt.datetime,
        cross_lists: bool = True,
    ) -> IngestCounts:
        """Store one listing and its papers, deduplicating papers; all or nothing.

        A record is the same paper as a stored one when their ids match, else when its
        normalized title is one the paper was seen under (``paper_titles``), except that
        two different arXiv ids are two papers; a record without an arXiv id whose title
        names several papers is left out and counted as ambiguous. A repeat keeps
        ``first_seen``, fills in what was missing (a better id, authors, url, published,
        categories) and takes the latest upvotes; a newer arXiv version replaces title,
        abstract and authors, and an older one changes nothing. A paper never seen that
        arXiv announces as a replacement (or as a cross-list, when ``cross_lists`` is
        false) is stored as an old paper, never a candidate; a title-only paper whose
        title a record with an arXiv id carries is folded into that paper (see
        :mod:`.merge`), unless the paper is one this listing created (a failure would
        delete it).

        Records are taken in chunks, each identified, looked up, merged and written in a
        transaction of its own, so no write transaction lasts more than about a second
        and memory holds one chunk, whatever the length of the listing. The listing's new
        papers are *staged* meanwhile (``staged_papers``: every read of papers leaves them
        out) and its placements wait in ``staged_placements``; when the last record is in,
        one short transaction records the listing and publishes them. An error anywhere
        (or a crash: the next ingest cleans up) deletes the staged papers again, so a
        failed file leaves no paper behind. Changes to papers stored before (filled-in
        fields, upvotes, a better id) are written with their chunk and stay: each is one
        a later listing would make too, and none makes a paper sendable.

        A helper thread finishes each chunk's transaction (indexes its new papers for
        full-text search, commits, now and then checkpoints the WAL) while the next
        chunk is parsed (see :class:`BackgroundIndexer`). Holds :meth:`ingest_lock`.
        """
        # Taking the lock discards what a crashed ingest left (see ingest_lock).
        with self.ingest_lock():
            already = self.ingested_listing(listing.sha256)
            if already is not None:
                raise AlreadyIngestedError(f"{listing.path}: already ingested (as {already.path})")
            try:
                counts = self._stage_beside_indexing(
                    records, first_seen=first_seen, now=now, cross_lists=cross_lists
                )
                return self._publish(listing, counts, now=now)
            except BaseException:
                self.discard_staged()
                raise

    def _stage_beside_indexing(
        self,
        records: Iterable[PaperRecord],
        *,
        first_seen: dt.date,
        now: dt.datetime,
        cross_lists: bool,
    ) -> IngestCounts:
        """:meth:`_stage` with a helper thread finishing each chunk's transaction (see
        :class:`BackgroundIndexer`) while the next chunk is parsed."""
        with BackgroundIndexer(
            self.db.conn,
            self._file_under_own_titles,
            self._index_staged,
            path=self.path,
            checkpoint_every=_CHECKPOINT_EVERY,
        ) as indexer:
            return self._stage(
                records, indexer, first_seen=first_seen, now=now, cross_lists=cross_lists
            )

    def _stage(
        self,
        records: Iterable[PaperRecord],
        indexer: BackgroundIndexer,
        *,
        first_seen: dt.date,
        now: dt.datetime,
        cross_lists: bool,
    ) -> IngestCounts:
        """Write the records chunk by chunk as staged papers and placements."""
        conn = self.db.conn
        first_seen_text, now_text = day_text(first_seen), stamp(now)
        position = created = updated = duplicates = ambiguous = old_papers = revised = 0
        renamed = False  # whether staged_aliases has rows (discard_staged emptied it)
        folded = False  # and staged_folds
        # Reading a chunk runs the parser (records is a lazy stream), which overlaps the
        # indexing of the chunk before it.
        for chunk in chunks(records, _INGEST_CHUNK):
            prepared = [identify(record) for record in chunk]
            # The lookups must see the chunk before (committed by now, maybe not yet
            # indexed): on the ingest's read connection while the helper indexes it.
            lookups = indexer.committed_reader()
            merge = Merge(cross_lists=cross_lists)
            found = self._papers_matching(
                {p.id for p in prepared},
                {p.title_key for p in prepared},
                renamed=renamed,
                folded=folded,
                conn=lookups,
            )
            merge.learn(found.staged, created_here=True)
            merge.learn(found.published, titles=found.titles)
            merge.learn_aliases(found.aliases)
            merge.learn_folds(found.folds)
            for item in prepared:
                merge.add(item, position, first_seen=first_seen_text, now=now_text)
                position += 1
            new_rows = merge.take_new_rows()
            indexer.wait()  # the helper is done with the connection
            # Only the ingest writes papers, and it holds the ingest lock: what the lookups
            # found is still so in this transaction.
            with indexer.chunk() as chunk_write:
                if new_rows:
                    # The FTS insert trigger is off for this transaction only: the helper
                    # thread indexes the chunk with one statement (see _index_staged).
                    conn.execute("DROP TRIGGER papers_ai")
                    since = self._last_paper_rowid()
                    conn.executemany(_INSERT_PAPER, [paper_values(r) for r in new_rows])
                    conn.execute(
                        "INSERT INTO staged_papers (paper_rowid) "
                        "SELECT rowid FROM papers WHERE rowid > ?",
                        [since],
                    )
                    # The helper files each new paper under its own title before it
                    # commits (one statement: SQLite's work, not Python's); the other
                    # titles the chunk saw are written below.
                    chunk_write.new_after = since
                    conn.execute(FTS_INSERT_TRIGGER)
                self._write_changes(merge)
                conn.executemany(
                    "INSERT OR IGNORE INTO staged_references (paper_rowid, first_seen) "
                    "SELECT rowid, ? FROM papers WHERE id = ?",
                    [(first_seen_text, row["id"]) for row in merge.listed_references],
                )
                # An id renamed here still names its paper in later chunks.
                renames = merge.aliases()
                conn.executemany(
                    "INSERT OR IGNORE INTO staged_aliases (old_id, paper_rowid) "
                    "SELECT ?, rowid FROM papers WHERE id = ?",
                    renames,
                )
                renamed = renamed or bool(renames)
                conn.executemany(
                    "INSERT OR REPLACE INTO staged_folds (stray_rowid, paper_rowid) "
                    "SELECT s.rowid, p.rowid FROM papers s, papers p WHERE s.id = ? AND p.id = ?",
                    [(s["id"], merge.paper_of(r)["id"]) for s, r in merge.deferred_folds],
                )
                folded = folded or bool(merge.deferred_folds)
                conn.executemany(
                    "INSERT OR IGNORE INTO staged_placements (paper_id, position) VALUES (?, ?)",
                    [(merge.paper_of(row)["id"], pos) for row, pos in merge.placements],
                )
                # Every title a paper is seen under names it from now on.
                inserted = {id(row) for row in new_rows}
                conn.executemany(
                    "INSERT OR IGNORE INTO paper_titles (paper_id, title_key, title) "
                    "VALUES (?, ?, ?)",
                    [
                        (merge.paper_of(r)["id"], key, title)
                        for r, key, title in merge.new_titles
                        if id(r) not in inserted or key != r["title_key"]
                    ],
                )
            created += merge.created
            old_papers += merge.old_papers
            revised += merge.revised
            updated += merge.updated
            duplicates += merge.duplicates
            ambiguous += merge.ambiguous
        indexer.wait()
        return IngestCounts(
            found=position,
            new=created,
            updated=updated,
            duplicates=duplicates,
            ambiguous=ambiguous,
            old_papers=old_papers,
            revised=revised,
        )

    def store_reference_papers(
        self, records: Sequence[PaperRecord], *, day: dt.date, now: dt.datetime
    ) -> list[str | None]:
        """The paper ids of a library's ``records`` (None: a title naming several papers),
        storing unknown ones as *reference* papers: liked papers for the ranker, never
        candidates (:meth:`papers` leaves them out) until a listing carries them. One
        transaction; holds :meth:`ingest_lock` (whose taking discards what a killed ingest
        staged: a paper it staged is stored here as a reference paper like any other)."""
        day_str, now_str = day_text(day), stamp(now)
        result: list[str | None] = []
        with self.ingest_lock(), self.transaction():
            for chunk in chunks(records, _INGEST_CHUNK):
                prepared = [identify(record) for record in chunk]
                found = self._papers_matching(
                    {p.id for p in prepared}, {p.title_key for p in prepared}
                )
                merge = Merge()
                merge.learn(found.published, titles=found.titles)
                merge.learn_aliases(found.aliases)
                rows = []
                for position, item in enumerate(prepared):
                    before = merge.ambiguous
                    merge.add(item, position, first_seen=day_str, now=now_str)
                    placed = merge.placements[-1][0]
                    rows.append(None if merge.ambiguous > before else merge.paper_of(placed))
                new_rows = merge.take_new_rows()
                for row in new_rows:
                    row["reference"] = 1
                self.db.conn.executemany(_INSERT_PAPER, [paper_values(r) for r in new_rows])
                merge.retexts.clear()  # a reference paper found again stays one
                self._write_changes(merge)
                self.db.conn.executemany(
                    "INSERT OR IGNORE INTO paper_titles (paper_id, title_key, title) "
                    "VALUES (?, ?, ?)",
                    [(merge.paper_of(r)["id"], key, title) for r, key, title in merge.new_titles],
                )
                result += [row["id"] if row is not None else None for row in rows]
        return result

    def _publish(
        self, listing: ListingInfo, counts: IngestCounts, *, now: dt.datetime
    ) -> IngestCounts:
        """Record the listing and make its staged papers and placements visible: one
        short transaction."""
        conn = self.db.conn
        with self.transaction():
            cursor = conn.execute(
                "INSERT INTO listings (path, sha256, format, listing_date, found, new_papers, "
                "updated_papers, duplicates, ingested_at, status) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'ingested')",
                [
                    listing.path,
                    listing.sha256,
                    listing.format,
                    day_text(listing.listing_date) if listing.listing_date else None,
                    counts.found,
                    counts.new,
                    counts.updated,
                    counts.duplicates,
                    stamp(now),
                ],
            )
            # Stored papers found to be one this listing created go into it now (see
            # Merge._absorb): their sends, votes, listings and titles with them.
            for stray_id, paper_id in conn.execute(STAGED_FOLDS).fetchall():
                self._absorb(stray_id, paper_id)
            conn.execute("DELETE FROM staged_folds")
            conn.execute(
                "INSERT OR IGNORE INTO paper_listings (listing_id, paper_id, position) "
                "SELECT ?, paper_id, position FROM staged_placements",
                [cursor.lastrowid],
            )
            conn.execute("DELETE FROM staged_placements")
            # Ids renamed in this listing (its own new papers' too) name their papers for good.
            conn.execute(
                "INSERT OR IGNORE INTO paper_aliases (old_id, paper_id) "
                "SELECT a.old_id, p.id FROM staged_aliases a "
                "JOIN papers p ON p.rowid = a.paper_rowid WHERE a.old_id != p.id"
            )
            conn.execute("DELETE FROM staged_aliases")
            conn.execute("DELETE FROM staged_papers")
            # The reference papers this listing carried become papers like any other.
            conn.execute(
                "UPDATE papers SET reference = 0, first_seen = (SELECT s.first_seen FROM "
                "staged_references s WHERE s.paper_rowid = papers.rowid) "
                "WHERE rowid IN (SELECT paper_rowid FROM staged_references)"
            )
            conn.execute("DELETE FROM staged_references")
        return counts

    def discard_staged(self) -> int:
        """Delete the papers of an ingest that did not complete (failed, or crashed
        earlier), chunk by chunk; the number deleted. Papers not yet in the full-text
        index are indexed first, so that deleting them (whose trigger removes them from
        the index) never asks FTS5 to remove what it does not hold."""
        conn = self.db.conn
        deleted = 0
        while True:
            with self.transaction():
                rowids = [
                    row[0]
                    for row in conn.execute(
                        f"SELECT paper_rowid FROM staged_papers LIMIT {_INGEST_CHUNK}"
                    )
                ]
                if not rowids:
                    conn.execute("DELETE FROM staged_placements")
                    conn.execute("DELETE FROM staged_aliases")
                    conn.execute("DELETE FROM staged_folds")
                    conn.execute("DELETE FROM staged_references")
                    return deleted
                self._index_staged()
                for chunk, marks in in_chunks(rowids):
                    conn.execute(f"DELETE FROM papers WHERE rowid IN ({marks})", chunk)
                    conn.execute(f"DELETE FROM staged_papers WHERE paper_rowid IN ({marks})", chunk)
                deleted += len(rowids)

    def _file_under_own_titles(self, after: int) -> None:
        """File the papers above rowid ``after`` (a chunk's new papers) under their own
        titles in ``paper_titles``: one statement, inside the chunk's transaction."""
        self.db.conn.execute(
            "INSERT OR IGNORE INTO paper_titles (paper_id, title_key, title) "
            "SELECT id, title_key, title FROM papers WHERE rowid > ?",
            [after],
        )

    def _index_staged(self) -> None:
        """Put the staged papers not yet in the full-text index into it, in one
        statement, and mark them indexed."""
        with self.transaction():
            self.db.conn.execute(
                "INSERT INTO papers_fts (rowid, title, abstract) "
                "SELECT rowid, title, abstract FROM papers WHERE rowid IN "
                "(SELECT paper_rowid FROM staged_papers WHERE indexed = 0)"
            )
            self.db.conn.execute("UPDATE staged_papers SET indexed = 1 WHERE indexed = 0")

    def _last_paper_rowid(self) -> int:
        (last,) = self.db.conn.execute("SELECT coalesce(max(rowid), 0) FROM papers").fetchone()
        return int(last)

    def _papers_matching(
        self,
        ids: set[str],
        keys: set[str],
        *,
        renamed: bool = True,
        folded: bool = False,
        conn: sqlite3.Connection | None = None,
    ) -> Matches:
        """:func:`~.lookups.papers_matching` on ``conn`` (default: the store's)."""
        return papers_matching(conn or self.db.conn, ids, keys, renamed=renamed, folded=folded)

    def _write_changes(self, merge: Merge) -> None:
        """Renames, then field updates, of rows written before this listing or earlier in
        it that a later record changed."""
        conn = self.db.conn
        for old_id, new_id in merge.renames:
            # ON UPDATE CASCADE carries the new id into paper_listings and friends.
            conn.execute("UPDATE papers SET id = ?, id_kind = ? WHERE id = ?", [*new_id, old_id])
            # The old id still names the paper (a stored paper's rename stays, even if the
            # listing fails: see ingest_listing).
            conn.execute(
                "INSERT OR REPLACE INTO paper_aliases (old_id, paper_id) VALUES (?, ?)",
                [old_id, new_id[0]],
            )
        for stray, paper in merge.absorbed:
            self._absorb(stray["id"], paper["id"])
        for columns, rows in (
            (UPDATED_COLUMNS, merge.dirty),
            (TEXT_COLUMNS, merge.retitled),  # a newer version's text
            (TEXT_COLUMNS, merge.retexts),  # a reference paper's text from its listing
        ):
            if rows:
                sets = ", ".join(f"{c} = ?" for c in columns)
                conn.executemany(
                    f"UPDATE papers SET {sets} WHERE id = ?",
                    [(*(r[c] for c in columns), r["id"]) for r in rows.values()],
                )

    def _absorb(self, stray_id: str, paper_id: str) -> None:
        """Fold the paper ``stray_id`` into ``paper_id`` (see Merge._absorb): its sends,
        votes, listings and titles go to the paper (where the paper has the same one, it
        stays as it is), then the row goes."""
        conn = self.db.conn
        tables = ("sends", "paper_listings", "paper_titles", "staged_placements", "paper_aliases")
        for table in tables:
            conn.execute(
                f"UPDATE OR IGNORE {table} SET paper_id = ? WHERE paper_id = ?",
                [paper_id, stray_id],
            )
        # Its id names the paper from now on.
        conn.execute(
            "INSERT OR REPLACE INTO paper_aliases (old_id, paper_id) VALUES (?, ?)",
            [stray_id, paper_id],
        )
        conn.execute("UPDATE feedback SET paper_id = ? WHERE paper_id = ?", [paper_id, stray_id])
        conn.execute(
            "DELETE FROM staged_papers WHERE paper_rowid = (SELECT rowid FROM papers WHERE id = ?)",
            [stray_id],
        )
        conn.execute("DELETE FROM papers WHERE id = ?", [stray_id])  # cascades the rest

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
