"""The SQLite store: the one module that holds SQL.

Opened through ``sqlite_utils.Database`` with WAL, foreign keys on and a busy timeout so a
second process waits instead of failing. The schema is built by recorded migrations
(``migrations`` table) from an empty file. Each unit of work is one transaction.

Tables (admins may query them directly with sqlite-utils or Datasette):

- ``papers``: one row per distinct paper. ``id`` is the arXiv id when known, else the
  listing's own id, else ``t:`` + a hash of the normalized title (``id_kind`` says which);
  ``title_key`` is the normalized title, unique, so a paper is stored once.
- ``papers_fts``: FTS5 index over title and abstract, kept in sync by triggers (an ingest
  indexes its own new papers in bulk, beside its parsing; see ``ingest_listing``).
- ``listings``: every file ingested or tried (path, sha256, format, counts, status, error).
- ``paper_listings``: which listing carried which paper, and its position there.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from contextlib import contextmanager
from dataclasses import dataclass
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

import sqlite_utils

from .errors import NotFoundError, StoreError, SubscriberError
from .profiles import ENTRY_KEYS, SubscriberEntry
from .records import Keyword, Paper, PaperRecord, Pick, Profile, Subscriber, paper_text
from .sources import arxiv_id_from, normalize_title

ID_KIND_RANK = {"title": 0, "source": 1, "arxiv": 2}
_CHUNK = 500  # ids per IN (...) query; well under SQLite's variable limit


@dataclass(frozen=True)
class ListingInfo:
    """What the store records about one listing file."""

    path: str
    sha256: str
    format: str
    listing_date: str | None


@dataclass(frozen=True)
class IngestCounts:
    """What ingesting one listing did to ``papers``."""

    found: int
    new: int
    updated: int
    duplicates: int


@dataclass(frozen=True)
class ListingRow:
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


@dataclass(frozen=True)
class ProfileChange:
    """One entry of a subscriber's profile history."""

    id: int
    changed_at: str
    changed_by: str
    change: str
    profile: Profile


def _profile_to_json(profile: Profile) -> dict[str, str]:
    return {
        "keywords": json.dumps([{"text": k.text, "weight": k.weight} for k in profile.keywords]),
        "exclude": json.dumps(list(profile.exclude)),
        "liked": json.dumps(list(profile.liked)),
        "disliked": json.dumps(list(profile.disliked)),
        "description": profile.description,
    }


def _profile_from_json(
    keywords: str, exclude: str, liked: str, disliked: str, description: str
) -> Profile:
    return Profile(
        keywords=tuple(Keyword(k["text"], float(k["weight"])) for k in json.loads(keywords)),
        exclude=tuple(json.loads(exclude)),
        liked=tuple(json.loads(liked)),
        disliked=tuple(json.loads(disliked)),
        description=description,
    )


def describe_profile_change(old: Profile, new: Profile) -> str:
    """What changed between two profiles, in words, for the history."""
    parts = []
    for label, before, after in (
        ("keyword", [str(k) for k in old.keywords], [str(k) for k in new.keywords]),
        ("exclude", list(old.exclude), list(new.exclude)),
        ("like", list(old.liked), list(new.liked)),
        ("dislike", list(old.disliked), list(new.disliked)),
    ):
        parts += [f"+{label} {v}" for v in after if v not in before]
        parts += [f"-{label} {v}" for v in before if v not in after]
    if old.description != new.description:
        parts.append("description changed")
    return "; ".join(parts) or "no change"


@dataclass(frozen=True)
class DigestRow:
    """One subscriber's digest for one date, as it moves pending → rendered → sent."""

    id: int
    subscriber_id: int
    digest_date: str
    status: str
    message_id: str | None
    picks: tuple[Pick, ...]
    error: str | None
    attempts: int
    claimed_by: str | None

    @property
    def paper_ids(self) -> tuple[str, ...]:
        return tuple(p.paper_id for p in self.picks)


_DIGEST_COLUMNS = (
    "id, subscriber_id, digest_date, status, message_id, picks, error, attempts, claimed_by"
)


def _digest(row: Sequence[Any]) -> DigestRow:
    values = list(row)
    values[5] = tuple(
        Pick(p["id"], float(p["score"]), tuple(p["reasons"])) for p in json.loads(values[5])
    )
    return DigestRow(*values)


def _picks_json(picks: Sequence[Pick]) -> str:
    return json.dumps(
        [{"id": p.paper_id, "score": round(p.score, 6), "reasons": list(p.reasons)} for p in picks],
        ensure_ascii=False,
    )


# --- migrations -------------------------------------------------------------------------


def _m001_papers_and_listings(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE papers (
            id TEXT PRIMARY KEY,
            id_kind TEXT NOT NULL CHECK (id_kind IN ('arxiv', 'source', 'title')),
            title TEXT NOT NULL,
            abstract TEXT NOT NULL,
            title_key TEXT NOT NULL,
            authors TEXT NOT NULL DEFAULT '[]',      -- JSON list of names
            url TEXT,
            published TEXT,                          -- ISO date
            upvotes INTEGER,
            categories TEXT NOT NULL DEFAULT '[]',   -- JSON list
            first_seen TEXT NOT NULL,                -- ISO date of the first ingest
            updated_at TEXT NOT NULL
        );
        CREATE UNIQUE INDEX papers_title_key ON papers (title_key);
        CREATE INDEX papers_first_seen ON papers (first_seen);

        CREATE TABLE listings (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            format TEXT,
            listing_date TEXT,
            found INTEGER NOT NULL DEFAULT 0,
            new_papers INTEGER NOT NULL DEFAULT 0,
            updated_papers INTEGER NOT NULL DEFAULT 0,
            duplicates INTEGER NOT NULL DEFAULT 0,
            ingested_at TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('ingested', 'failed')),
            error TEXT
        );
        -- A file's content is ingested once; failed attempts may repeat.
        CREATE UNIQUE INDEX listings_ingested_sha ON listings (sha256) WHERE status = 'ingested';

        CREATE TABLE paper_listings (
            listing_id INTEGER NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
            paper_id TEXT NOT NULL REFERENCES papers (id) ON UPDATE CASCADE ON DELETE CASCADE,
            position INTEGER NOT NULL,
            PRIMARY KEY (listing_id, paper_id)
        ) WITHOUT ROWID;                              -- one b-tree, not two, per listed paper
        CREATE INDEX paper_listings_paper ON paper_listings (paper_id);
        """
    )
    db.table("papers").enable_fts(
        ["title", "abstract"], fts_version="FTS5", create_triggers=True, tokenize="porter"
    )
    # Re-index a paper only when its text changes, not on every upvote or id fill-in.
    db.executescript(
        """
        DROP TRIGGER papers_au;
        CREATE TRIGGER papers_au AFTER UPDATE OF title, abstract ON papers BEGIN
          INSERT INTO papers_fts (papers_fts, rowid, title, abstract)
            VALUES ('delete', old.rowid, old.title, old.abstract);
          INSERT INTO papers_fts (rowid, title, abstract)
            VALUES (new.rowid, new.title, new.abstract);
        END;
        """
    )


def _m002_subscribers(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE subscribers (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL COLLATE NOCASE UNIQUE,
            name TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'active'
                CHECK (status IN ('active', 'paused', 'unsubscribed', 'bounced')),
            frequency TEXT NOT NULL DEFAULT 'daily',       -- daily | weekly:mon … weekly:sun
            timezone TEXT NOT NULL DEFAULT 'UTC',
            max_papers INTEGER NOT NULL DEFAULT 10,
            min_score REAL,                                -- NULL: the config's ranking.min_score
            quiet_day TEXT NOT NULL DEFAULT 'skip' CHECK (quiet_day IN ('skip', 'note')),
            hard_failures INTEGER NOT NULL DEFAULT 0,      -- 5xx replies in a row
            created TEXT NOT NULL,
            updated TEXT NOT NULL
        );
        CREATE INDEX subscribers_status ON subscribers (status);

        CREATE TABLE profiles (
            subscriber_id INTEGER PRIMARY KEY REFERENCES subscribers (id) ON DELETE CASCADE,
            keywords TEXT NOT NULL DEFAULT '[]',      -- JSON [{"text": ..., "weight": ...}]
            exclude TEXT NOT NULL DEFAULT '[]',       -- JSON list of terms
            liked TEXT NOT NULL DEFAULT '[]',         -- JSON list of paper ids
            disliked TEXT NOT NULL DEFAULT '[]',
            description TEXT NOT NULL DEFAULT '',
            updated TEXT NOT NULL
        );

        CREATE TABLE profile_history (
            id INTEGER PRIMARY KEY,
            subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
            changed_at TEXT NOT NULL,
            changed_by TEXT NOT NULL,
            change TEXT NOT NULL,                     -- what changed, in words
            profile TEXT NOT NULL                     -- JSON snapshot after the change
        );
        CREATE INDEX profile_history_subscriber ON profile_history (subscriber_id, id);

        CREATE TABLE feedback (
            id INTEGER PRIMARY KEY,
            subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
            paper_id TEXT NOT NULL REFERENCES papers (id) ON UPDATE CASCADE ON DELETE CASCADE,
            vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
            source TEXT NOT NULL,                     -- email, web, cli, import
            created_at TEXT NOT NULL
        );
        CREATE INDEX feedback_subscriber ON feedback (subscriber_id, paper_id, id);

        CREATE TABLE digests (
            id INTEGER PRIMARY KEY,
            subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
            digest_date TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'rendered', 'sent', 'failed', 'skipped')),
            message_id TEXT,
            picks TEXT NOT NULL DEFAULT '[]',         -- JSON [{"id", "score", "reasons"}], in order
            error TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            run_id INTEGER,
            claimed_by TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (subscriber_id, digest_date)
        );
        CREATE INDEX digests_date_status ON digests (digest_date, status);

        CREATE TABLE sends (
            subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
            paper_id TEXT NOT NULL REFERENCES papers (id) ON UPDATE CASCADE ON DELETE CASCADE,
            digest_id INTEGER REFERENCES digests (id) ON DELETE SET NULL,
            sent_at TEXT NOT NULL,
            PRIMARY KEY (subscriber_id, paper_id)     -- a paper reaches a subscriber once
        );
        CREATE INDEX sends_paper ON sends (paper_id);
        """
    )


def _m003_runs(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            digest_date TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'ok', 'failed', 'interrupted', 'dry-run')),
            trigger TEXT NOT NULL DEFAULT 'cli',     -- cli, schedule, demo
            transport TEXT NOT NULL,
            listings_ingested INTEGER NOT NULL DEFAULT 0,
            new_papers INTEGER NOT NULL DEFAULT 0,
            subscribers_due INTEGER NOT NULL DEFAULT 0,
            sent INTEGER NOT NULL DEFAULT 0,
            skipped INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0,
            already_done INTEGER NOT NULL DEFAULT 0,
            failures TEXT NOT NULL DEFAULT '[]',      -- JSON [{"email": ..., "reason": ...}]
            notes TEXT NOT NULL DEFAULT '[]',         -- JSON list of sentences for people
            duration_seconds REAL,
            pid INTEGER
        );
        CREATE INDEX runs_started ON runs (started_at);
        """
    )


def _m004_fts_bulk_settings(db: sqlite_utils.Database) -> None:
    # A bigger in-memory term buffer (32 MiB) and fewer merges: a large listing indexes
    # about 10% faster, and searches stay fast.
    db.execute("INSERT INTO papers_fts (papers_fts, rank) VALUES ('hashsize', 33554432)")
    db.execute("INSERT INTO papers_fts (papers_fts, rank) VALUES ('automerge', 16)")


# Indexes each new paper. An ingest drops it inside its own transaction and indexes its
# papers with one statement per chunk (less than half the cost of a trigger call per row),
# then creates it again before committing: other connections never see it missing.
_FTS_INSERT_TRIGGER = """
CREATE TRIGGER papers_ai AFTER INSERT ON papers BEGIN
  INSERT INTO papers_fts (rowid, title, abstract) VALUES (new.rowid, new.title, new.abstract);
END
"""


def _m005_fts_insert_trigger_text(db: sqlite_utils.Database) -> None:
    # The same trigger sqlite-utils made, in the text the ingest re-creates.
    db.execute("DROP TRIGGER papers_ai")
    db.execute(_FTS_INSERT_TRIGGER)


MIGRATIONS: tuple[tuple[str, Callable[[sqlite_utils.Database], None]], ...] = (
    ("001_papers_and_listings", _m001_papers_and_listings),
    ("002_subscribers_profiles_feedback_sends", _m002_subscribers),
    ("003_runs", _m003_runs),
    ("004_fts_bulk_settings", _m004_fts_bulk_settings),
    ("005_fts_insert_trigger_text", _m005_fts_insert_trigger_text),
)


# --- the store ----------------------------------------------------------------------------


class Store:
    """All reads and writes of digest's SQLite database."""

    def __init__(self, db: sqlite_utils.Database, path: Path | None = None) -> None:
        self.db = db
        self.path = path

    @classmethod
    def open(cls, path: Path, *, create: bool = False) -> Store:
        """Open the database at ``path`` and bring its schema up to date.

        Without ``create`` a missing file is an error that says how to make one.
        """
        if not create and not path.exists():
            raise StoreError(
                f"{path}: no database here; run `digest init` first "
                f"(or fix store.database in the config)"
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # An ingest hands the connection to its indexing thread between chunks (never
            # two threads at once), so it may be used off the thread that opened it.
            conn = sqlite3.connect(str(path), timeout=30.0, check_same_thread=False)
            db = sqlite_utils.Database(conn)
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("PRAGMA foreign_keys = ON")
            if db.journal_mode != "wal":
                db.enable_wal()
            conn.execute("PRAGMA synchronous = NORMAL")
            # 64 MiB of page cache: index inserts during a large ingest stay in memory.
            conn.execute("PRAGMA cache_size = -65536")
            store = cls(db, path)
            store.migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: cannot open the database ({exc})") from exc
        return store

    def close(self) -> None:
        self.db.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One unit of work: everything inside commits together or not at all.

        Inside another transaction it is a savepoint: a failure undoes only its own part,
        and the outer transaction decides what is committed.
        """
        conn = self.db.conn
        if conn.in_transaction:
            conn.execute("SAVEPOINT nested")
            try:
                yield
            except BaseException:
                conn.execute("ROLLBACK TO nested")
                conn.execute("RELEASE nested")
                raise
            conn.execute("RELEASE nested")
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.rollback()
            raise
        conn.commit()

    def migrate(self) -> list[str]:
        """Apply the migrations this database has not had yet; return their names."""
        conn = self.db.conn
        conn.execute(
            "CREATE TABLE IF NOT EXISTS migrations "
            "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT (datetime('now')))"
        )
        done = {row[0] for row in conn.execute("SELECT name FROM migrations")}
        known = {name for name, _ in MIGRATIONS}
        unknown = done - known
        if unknown:
            raise StoreError(
                f"{self.path}: the database was made by a newer digest "
                f"(migrations {', '.join(sorted(unknown))}); upgrade digest"
            )
        applied = []
        for name, migration in MIGRATIONS:
            if name in done:
                continue
            with self.transaction():
                migration(self.db)
                conn.execute("INSERT INTO migrations (name) VALUES (?)", [name])
            applied.append(name)
        return applied

    # --- listings and papers: ingest ------------------------------------------------------

    def ingested_listing(self, sha256: str) -> ListingRow | None:
        """The successful ingest of a file with this content, if any."""
        rows = self._listings("WHERE sha256 = ? AND status = 'ingested'", [sha256])
        return rows[0] if rows else None

    def record_failed_listing(
        self, *, path: str, sha256: str, error: str, fmt: str | None, now: str
    ) -> None:
        """Remember a file that could not be ingested, and why."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO listings (path, sha256, format, ingested_at, status, error) "
                "VALUES (?, ?, ?, ?, 'failed', ?)",
                [path, sha256, fmt, now, error],
            )

    def ingest_listing(
        self,
        listing: ListingInfo,
        records: Iterable[PaperRecord],
        *,
        first_seen: str,
        now: str,
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
        with self.transaction(), _BackgroundIndexer(self, self._suspend_fts_trigger()) as indexer:
            merge = _Merge()
            position = 0
            # Reading a chunk runs the parser (records is a lazy stream), which overlaps
            # the indexing of the chunk before it.
            for chunk in _chunks(records, _INGEST_CHUNK):
                prepared = [_identify(record) for record in chunk]
                indexer.wait()  # the connection is ours again
                merge.learn(
                    self._papers_matching(
                        {p.id for p in prepared} - merge.rows_by_id.keys(),
                        {p.title_key for p in prepared} - merge.rows_by_key.keys(),
                    )
                )
                for item in prepared:
                    merge.add(item, position, first_seen=first_seen, now=now)
                    position += 1
                new_rows = merge.take_new_rows()
                if new_rows:
                    conn.executemany(_INSERT_PAPER, [_paper_values(r) for r in new_rows])
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
                    listing.listing_date,
                    position,
                    merge.created,
                    merge.updated,
                    merge.duplicates,
                    now,
                ],
            )
            listing_id = cursor.lastrowid
            self._write_changes(merge)
            conn.executemany(
                "INSERT OR IGNORE INTO paper_listings (listing_id, paper_id, position) "
                "VALUES (?, ?, ?)",
                [(listing_id, row["id"], pos) for row, pos in merge.placements],
            )
            conn.execute(_FTS_INSERT_TRIGGER)
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
            for start in range(0, len(values), _CHUNK):
                chunk = values[start : start + _CHUNK]
                marks = ", ".join("?" * len(chunk))
                for row in self.db.query(
                    f"SELECT * FROM papers WHERE {column} IN ({marks})", chunk
                ):
                    found[row["id"]] = dict(row)
        return list(found.values())

    def _write_changes(self, merge: _Merge) -> None:
        """Renames, then field updates, of rows written before this listing or earlier in
        it that a later record changed."""
        conn = self.db.conn
        for old_id, new_id in merge.renames:
            # ON UPDATE CASCADE carries the new id into paper_listings and friends.
            conn.execute("UPDATE papers SET id = ?, id_kind = ? WHERE id = ?", [*new_id, old_id])
        if merge.dirty:
            sets = ", ".join(f"{c} = ?" for c in _UPDATED_COLUMNS)
            conn.executemany(
                f"UPDATE papers SET {sets} WHERE id = ?",
                [(*(r[c] for c in _UPDATED_COLUMNS), r["id"]) for r in merge.dirty.values()],
            )

    # --- listings and papers: reads -------------------------------------------------------

    def listings(self, *, status: str | None = None, limit: int | None = None) -> list[ListingRow]:
        where, args = ("WHERE status = ?", [status]) if status else ("", [])
        suffix = f" LIMIT {int(limit)}" if limit else ""
        return self._listings(f"{where} ORDER BY id DESC{suffix}", args)

    def _listings(self, clause: str, args: Sequence[Any]) -> list[ListingRow]:
        return [
            ListingRow(**row)
            for row in self.db.query(
                "SELECT id, path, sha256, format, listing_date, found, new_papers, "
                f"updated_papers, duplicates, ingested_at, status, error FROM listings {clause}",
                args,
            )
        ]

    def paper_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM papers").fetchone()[0])

    def corpus_fingerprint(self) -> str:
        """Changes whenever a paper is added, renamed or edited."""
        row = self.db.execute(
            "SELECT count(*), coalesce(max(rowid), 0), coalesce(max(updated_at), '') FROM papers"
        ).fetchone()
        return f"{row[0]}:{row[1]}:{row[2]}"

    def iter_paper_texts(self) -> Iterator[str]:
        """Title and abstract of every paper, for fitting the ranker's vocabulary."""
        for title, abstract in self.db.execute("SELECT title, abstract FROM papers ORDER BY rowid"):
            yield paper_text(title, abstract)

    def papers(
        self, *, since: str | None = None, until: str | None = None, limit: int | None = None
    ) -> list[Paper]:
        """Papers first seen in [since, until] (ISO dates, both optional), newest first."""
        clauses, args = [], []
        if since:
            clauses.append("p.first_seen >= ?")
            args.append(since)
        if until:
            clauses.append("p.first_seen <= ?")
            args.append(until)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        suffix = f" LIMIT {int(limit)}" if limit else ""
        return self._papers(f"{where} ORDER BY p.first_seen DESC, p.rowid{suffix}", args)

    def papers_by_id(self, ids: Iterable[str]) -> dict[str, Paper]:
        wanted = sorted(set(ids))
        result: dict[str, Paper] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            for paper in self._papers(f"WHERE p.id IN ({', '.join('?' * len(chunk))})", chunk):
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

    def paper_listings(self, paper_id: str) -> list[ListingRow]:
        return self._listings(
            "WHERE id IN (SELECT listing_id FROM paper_listings WHERE paper_id = ?) ORDER BY id",
            [paper_id],
        )

    def _papers(self, clause: str, args: Sequence[Any]) -> list[Paper]:
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
            for row in self.db.query(sql, args)
        ]

    # --- subscribers ----------------------------------------------------------------------

    _SUBSCRIBER_COLUMNS = (
        "id, email, name, status, frequency, timezone, max_papers, min_score, quiet_day, "
        "created, updated"
    )

    def _subscribers(self, clause: str, args: Sequence[Any]) -> list[Subscriber]:
        return [
            Subscriber(**row)
            for row in self.db.query(
                f"SELECT {self._SUBSCRIBER_COLUMNS} FROM subscribers {clause}", args
            )
        ]

    def subscribers(
        self, *, status: str | None = None, search: str | None = None
    ) -> list[Subscriber]:
        """Subscribers by email, optionally only those with ``status`` or matching ``search``."""
        clauses, args = [], []
        if status:
            clauses.append("status = ?")
            args.append(status)
        if search:
            clauses.append("(email LIKE ? OR name LIKE ?)")
            args += [f"%{search}%", f"%{search}%"]
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return self._subscribers(f"{where} ORDER BY email", args)

    def subscriber(self, email: str) -> Subscriber:
        """The subscriber with this email (case-insensitive)."""
        found = self._subscribers("WHERE email = ?", [email.strip()])
        if not found:
            raise NotFoundError(f"no subscriber {email.strip()!r}; see `digest subscribers list`")
        return found[0]

    def subscriber_by_id(self, subscriber_id: int) -> Subscriber:
        found = self._subscribers("WHERE id = ?", [subscriber_id])
        if not found:
            raise NotFoundError(f"no subscriber with id {subscriber_id}")
        return found[0]

    def resolve_paper_ref(self, ref: str) -> str | None:
        """A paper id for ``ref``: a stored id (versioned arXiv ids too) or an exact title."""
        ref = ref.strip()
        for candidate in (ref, arxiv_id_from(ref)):
            if candidate and self.paper_exists(candidate):
                return candidate
        paper = self.paper_by_title(ref)
        return paper.id if paper else None

    def _resolve_refs(self, entry: SubscriberEntry) -> tuple[list[str], list[str]]:
        resolved: dict[str, list[str]] = {"liked": [], "disliked": []}
        for key in ("liked", "disliked"):
            for ref in getattr(entry, key):
                paper_id = self.resolve_paper_ref(ref)
                if paper_id is None:
                    raise SubscriberError(
                        f"{entry.email}: {key} paper {ref!r} is not in the store; give a "
                        "stored paper id or exact title (see `digest papers search`)"
                    )
                if paper_id not in resolved[key]:
                    resolved[key].append(paper_id)
        return resolved["liked"], resolved["disliked"]

    def save_entries(
        self, entries: Sequence[SubscriberEntry], *, who: str, now: str
    ) -> list[tuple[Subscriber, bool]]:
        """Create or update subscribers and their profiles, all or nothing.

        An entry updates only the keys it gave (``entry.present``), so a partial import
        does not wipe a profile. Unknown liked/disliked papers fail the whole call.
        Returns each subscriber and whether it was created.
        """
        results = []
        with self.transaction():
            for entry in entries:
                liked, disliked = self._resolve_refs(entry)
                results.append(self._save_entry(entry, liked, disliked, who=who, now=now))
        return results

    def _save_entry(
        self, entry: SubscriberEntry, liked: list[str], disliked: list[str], *, who: str, now: str
    ) -> tuple[Subscriber, bool]:
        existing = self._subscribers("WHERE email = ?", [entry.email])
        given = entry.present or frozenset(ENTRY_KEYS)
        columns = (
            "name",
            "status",
            "frequency",
            "timezone",
            "max_papers",
            "min_score",
            "quiet_day",
        )
        if existing:
            sub = existing[0]
            changes = {c: getattr(entry, c) for c in columns if c in given}
            if changes:
                sets = ", ".join(f"{c} = ?" for c in changes)
                self.db.execute(
                    f"UPDATE subscribers SET {sets}, updated = ? WHERE id = ?",
                    [*changes.values(), now, sub.id],
                )
            created = False
            subscriber_id = sub.id
            old = self.profile(subscriber_id)
        else:
            cursor = self.db.execute(
                "INSERT INTO subscribers (email, name, status, frequency, timezone, max_papers, "
                "min_score, quiet_day, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [entry.email, *(getattr(entry, c) for c in columns), now, now],
            )
            subscriber_id = int(cursor.lastrowid or 0)
            created = True
            old = Profile()
        new = Profile(
            keywords=entry.keywords if "keywords" in given else old.keywords,
            exclude=entry.exclude if "exclude" in given else old.exclude,
            liked=tuple(liked) if "liked" in given else old.liked,
            disliked=tuple(disliked) if "disliked" in given else old.disliked,
            description=entry.description if "description" in given else old.description,
        )
        if created or new != old:
            self._write_profile(subscriber_id, new, old, who=who, now=now)
        return self.subscriber_by_id(subscriber_id), created

    def update_subscriber(self, email: str, *, now: str, **changes: Any) -> Subscriber:
        """Change subscriber columns (name, status, frequency, …) by email."""
        allowed = {
            "name",
            "status",
            "frequency",
            "timezone",
            "max_papers",
            "min_score",
            "quiet_day",
        }
        bad = set(changes) - allowed
        if bad:
            raise StoreError(f"cannot change {', '.join(sorted(bad))} of a subscriber")
        sub = self.subscriber(email)
        if changes:
            sets = ", ".join(f"{c} = ?" for c in changes)
            with self.transaction():
                self.db.execute(
                    f"UPDATE subscribers SET {sets}, updated = ? WHERE id = ?",
                    [*changes.values(), now, sub.id],
                )
        return self.subscriber_by_id(sub.id)

    def set_status_by_id(self, subscriber_id: int, status: str, *, now: str) -> bool:
        """Set a subscriber's status; True if it changed (idempotent for repeats)."""
        with self.transaction():
            cursor = self.db.execute(
                "UPDATE subscribers SET status = ?, updated = ? WHERE id = ? AND status != ?",
                [status, now, subscriber_id, status],
            )
        return cursor.rowcount > 0

    def remove_subscriber(self, email: str, *, purge: bool, now: str) -> Subscriber:
        """Unsubscribe (keeping sends, feedback and history), or with ``purge`` delete all."""
        sub = self.subscriber(email)
        with self.transaction():
            if purge:
                self.db.execute("DELETE FROM subscribers WHERE id = ?", [sub.id])
            else:
                self.db.execute(
                    "UPDATE subscribers SET status = 'unsubscribed', updated = ? WHERE id = ?",
                    [now, sub.id],
                )
        return sub

    # --- profiles -------------------------------------------------------------------------

    def profile(self, subscriber_id: int) -> Profile:
        row = self.db.execute(
            "SELECT keywords, exclude, liked, disliked, description FROM profiles "
            "WHERE subscriber_id = ?",
            [subscriber_id],
        ).fetchone()
        return _profile_from_json(*row) if row else Profile()

    def profiles(self, subscriber_ids: Iterable[int]) -> dict[int, Profile]:
        ids = sorted(set(subscriber_ids))
        result = {i: Profile() for i in ids}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            for row in self.db.execute(
                "SELECT subscriber_id, keywords, exclude, liked, disliked, description "
                f"FROM profiles WHERE subscriber_id IN ({', '.join('?' * len(chunk))})",
                chunk,
            ):
                result[row[0]] = _profile_from_json(*row[1:])
        return result

    def save_profile(self, subscriber_id: int, profile: Profile, *, who: str, now: str) -> bool:
        """Replace a profile and record the change in its history; False if nothing changed."""
        with self.transaction():
            old = self.profile(subscriber_id)
            if old == profile:
                return False
            self._write_profile(subscriber_id, profile, old, who=who, now=now)
        return True

    def _write_profile(
        self, subscriber_id: int, new: Profile, old: Profile, *, who: str, now: str
    ) -> None:
        data = _profile_to_json(new)
        self.db.execute(
            "INSERT INTO profiles (subscriber_id, keywords, exclude, liked, disliked, "
            "description, updated) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (subscriber_id) DO UPDATE SET keywords = excluded.keywords, "
            "exclude = excluded.exclude, liked = excluded.liked, disliked = excluded.disliked, "
            "description = excluded.description, updated = excluded.updated",
            [subscriber_id, *data.values(), now],
        )
        self.db.execute(
            "INSERT INTO profile_history (subscriber_id, changed_at, changed_by, change, profile) "
            "VALUES (?, ?, ?, ?, ?)",
            [subscriber_id, now, who, describe_profile_change(old, new), json.dumps(data)],
        )

    def profile_history(self, subscriber_id: int) -> list[ProfileChange]:
        return [
            ProfileChange(
                id=row["id"],
                changed_at=row["changed_at"],
                changed_by=row["changed_by"],
                change=row["change"],
                profile=_profile_from_json(*json.loads(row["profile"]).values()),
            )
            for row in self.db.query(
                "SELECT id, changed_at, changed_by, change, profile FROM profile_history "
                "WHERE subscriber_id = ? ORDER BY id DESC",
                [subscriber_id],
            )
        ]

    def restore_profile(
        self, subscriber_id: int, history_id: int, *, who: str, now: str
    ) -> Profile:
        """Make an earlier version of the profile current again (itself a recorded change)."""
        for change in self.profile_history(subscriber_id):
            if change.id == history_id:
                self.save_profile(subscriber_id, change.profile, who=who, now=now)
                return change.profile
        raise NotFoundError(
            f"no profile version {history_id} for this subscriber; see `digest profile history`"
        )

    # --- feedback and sends ---------------------------------------------------------------

    def record_feedback(
        self, subscriber_id: int, paper_id: str, vote: int, *, source: str, now: str
    ) -> None:
        """Remember a +1/-1 on a paper; the latest vote per paper counts."""
        if vote not in (-1, 1):
            raise StoreError(f"feedback vote must be +1 or -1, not {vote}")
        with self.transaction():
            self.db.execute(
                "INSERT INTO feedback (subscriber_id, paper_id, vote, source, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [subscriber_id, paper_id, vote, source, now],
            )

    def feedback_votes(self, subscriber_ids: Iterable[int]) -> dict[int, dict[str, int]]:
        """subscriber id → paper id → latest vote."""
        ids = sorted(set(subscriber_ids))
        votes: dict[int, dict[str, int]] = {i: {} for i in ids}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            for sub_id, paper_id, vote in self.db.execute(
                "SELECT subscriber_id, paper_id, vote FROM feedback "
                f"WHERE subscriber_id IN ({', '.join('?' * len(chunk))}) ORDER BY id",
                chunk,
            ):
                votes[sub_id][paper_id] = vote
        return votes

    def sent_paper_ids(self, subscriber_ids: Iterable[int]) -> dict[int, set[str]]:
        """subscriber id → ids of every paper already sent to them."""
        ids = sorted(set(subscriber_ids))
        sent: dict[int, set[str]] = {i: set() for i in ids}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            for sub_id, paper_id in self.db.execute(
                "SELECT subscriber_id, paper_id FROM sends "
                f"WHERE subscriber_id IN ({', '.join('?' * len(chunk))})",
                chunk,
            ):
                sent[sub_id].add(paper_id)
        return sent

    def record_sends(
        self, subscriber_id: int, paper_ids: Iterable[str], *, digest_id: int | None, now: str
    ) -> None:
        """Mark papers as sent to a subscriber (call inside the digest's transaction)."""
        self.db.conn.executemany(
            "INSERT OR IGNORE INTO sends (subscriber_id, paper_id, digest_id, sent_at) "
            "VALUES (?, ?, ?, ?)",
            [(subscriber_id, p, digest_id, now) for p in paper_ids],
        )

    def entry_for(self, subscriber: Subscriber) -> SubscriberEntry:
        """A subscriber and profile in the import/export form."""
        profile = self.profile(subscriber.id)
        return SubscriberEntry(
            email=subscriber.email,
            name=subscriber.name,
            keywords=profile.keywords,
            exclude=profile.exclude,
            liked=profile.liked,
            disliked=profile.disliked,
            description=profile.description,
            frequency=subscriber.frequency,
            timezone=subscriber.timezone,
            max_papers=subscriber.max_papers,
            min_score=subscriber.min_score,
            quiet_day=subscriber.quiet_day,
            status=subscriber.status,
        )

    # --- digests --------------------------------------------------------------------------

    def digest_row(self, subscriber_id: int, digest_date: str) -> DigestRow | None:
        row = self.db.execute(
            f"SELECT {_DIGEST_COLUMNS} FROM digests WHERE subscriber_id = ? AND digest_date = ?",
            [subscriber_id, digest_date],
        ).fetchone()
        return _digest(row) if row else None

    def open_digest(self, subscriber_id: int, digest_date: str, *, now: str) -> DigestRow:
        """The digest of a subscriber for a date, created ``pending`` if it is new."""
        with self.transaction():
            self.db.execute(
                "INSERT OR IGNORE INTO digests (subscriber_id, digest_date, status, created_at, "
                "updated_at) VALUES (?, ?, 'pending', ?, ?)",
                [subscriber_id, digest_date, now, now],
            )
        row = self.digest_row(subscriber_id, digest_date)
        if row is None:  # pragma: no cover - inserted just above
            raise StoreError(f"digest of subscriber {subscriber_id} for {digest_date} vanished")
        return row

    def claim_digest(
        self,
        digest_id: int,
        *,
        from_status: str,
        claimed_by: str,
        previous_claim: str | None,
        picks: Sequence[Pick],
        message_id: str,
        run_id: int,
        now: str,
    ) -> bool:
        """Move a digest to ``rendered`` for this run, if nobody else moved it first.

        The conditional UPDATE is the claim: of two overlapping runs exactly one changes
        the row, and only that one sends the message.
        """
        with self.transaction():
            cursor = self.db.execute(
                "UPDATE digests SET status = 'rendered', claimed_by = ?, picks = ?, "
                "message_id = ?, run_id = ?, attempts = attempts + 1, updated_at = ? "
                "WHERE id = ? AND status = ? AND claimed_by IS ?",
                [
                    claimed_by,
                    _picks_json(picks),
                    message_id,
                    run_id,
                    now,
                    digest_id,
                    from_status,
                    previous_claim,
                ],
            )
        return cursor.rowcount == 1

    def mark_digest_sent(
        self,
        digest_id: int,
        *,
        subscriber_id: int,
        paper_ids: Sequence[str],
        claimed_by: str,
        now: str,
    ) -> bool:
        """Mark a digest sent and its papers as sent to the subscriber, in one transaction."""
        with self.transaction():
            cursor = self.db.execute(
                "UPDATE digests SET status = 'sent', error = NULL, updated_at = ? "
                "WHERE id = ? AND status = 'rendered' AND claimed_by = ?",
                [now, digest_id, claimed_by],
            )
            if cursor.rowcount != 1:
                return False
            self.record_sends(subscriber_id, paper_ids, digest_id=digest_id, now=now)
            self.db.execute(
                "UPDATE subscribers SET hard_failures = 0 WHERE id = ? AND hard_failures != 0",
                [subscriber_id],
            )
        return True

    def mark_digest_skipped(self, digest_id: int, *, reason: str, now: str) -> bool:
        """A digest with nothing to send (quiet day, no note wanted)."""
        with self.transaction():
            cursor = self.db.execute(
                "UPDATE digests SET status = 'skipped', error = ?, updated_at = ? "
                "WHERE id = ? AND status = 'pending'",
                [reason, now, digest_id],
            )
        return cursor.rowcount == 1

    def mark_digest_failed(
        self,
        digest_id: int,
        *,
        subscriber_id: int,
        claimed_by: str,
        reason: str,
        permanent: bool,
        max_hard_failures: int,
        now: str,
    ) -> bool:
        """Record a failed delivery. A transient failure goes back to ``pending`` (the next
        run retries it); a permanent one counts toward the subscriber becoming ``bounced``.
        Its papers are not recorded as sent, so they stay candidates. Returns True when
        the subscriber was just marked bounced."""
        with self.transaction():
            self.db.execute(
                "UPDATE digests SET status = ?, error = ?, claimed_by = NULL, updated_at = ? "
                "WHERE id = ? AND status = 'rendered' AND claimed_by = ?",
                ["failed" if permanent else "pending", reason, now, digest_id, claimed_by],
            )
            if not permanent:
                return False
            self.db.execute(
                "UPDATE subscribers SET hard_failures = hard_failures + 1 WHERE id = ?",
                [subscriber_id],
            )
            cursor = self.db.execute(
                "UPDATE subscribers SET status = 'bounced', updated = ? "
                "WHERE id = ? AND hard_failures >= ? AND status = 'active'",
                [now, subscriber_id, max_hard_failures],
            )
        return cursor.rowcount == 1

    def release_digest(self, digest_id: int, *, claimed_by: str, now: str) -> None:
        """Give a claimed digest back (``pending``) when a run stops before sending it."""
        with self.transaction():
            self.db.execute(
                "UPDATE digests SET status = 'pending', claimed_by = NULL, updated_at = ? "
                "WHERE id = ? AND status = 'rendered' AND claimed_by = ?",
                [now, digest_id, claimed_by],
            )

    def last_digest_dates(self) -> dict[int, str]:
        """subscriber id → date of their latest sent digest."""
        return {
            row[0]: row[1]
            for row in self.db.execute(
                "SELECT subscriber_id, max(digest_date) FROM digests WHERE status = 'sent' "
                "GROUP BY subscriber_id"
            )
        }

    def new_paper_count(self, day: str) -> int:
        return int(
            self.db.execute("SELECT count(*) FROM papers WHERE first_seen = ?", [day]).fetchone()[0]
        )

    def trending(self, day: str, *, limit: int) -> list[Paper]:
        """The day's new papers with the most upvotes (not personalised)."""
        if limit <= 0:
            return []
        return self._papers(
            "WHERE p.first_seen = ? AND p.upvotes IS NOT NULL AND p.upvotes > 0 "
            f"ORDER BY p.upvotes DESC, p.rowid LIMIT {int(limit)}",
            [day],
        )

    # --- runs -----------------------------------------------------------------------------

    def start_run(
        self, *, digest_date: str, trigger: str, transport: str, dry_run: bool, now: str, pid: int
    ) -> int:
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO runs (started_at, digest_date, status, trigger, transport, pid) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [now, digest_date, "dry-run" if dry_run else "running", trigger, transport, pid],
            )
        return int(cursor.lastrowid or 0)

    def mark_stale_runs(self, *, now: str) -> int:
        """Runs still "running" when a new run holds the lock died (killed or crashed)."""
        with self.transaction():
            cursor = self.db.execute(
                "UPDATE runs SET status = 'interrupted', finished_at = ?, "
                "notes = json_insert(notes, '$[#]', 'the process died; the next run finished "
                "its work') WHERE status = 'running'",
                [now],
            )
        return cursor.rowcount

    def finish_run(self, run_id: int, report: dict[str, Any]) -> None:
        columns = (
            "finished_at",
            "status",
            "listings_ingested",
            "new_papers",
            "subscribers_due",
            "sent",
            "skipped",
            "failed",
            "already_done",
            "failures",
            "notes",
            "duration_seconds",
        )
        values = [
            json.dumps(report[c]) if c in ("failures", "notes") else report[c] for c in columns
        ]
        with self.transaction():
            self.db.execute(
                f"UPDATE runs SET {', '.join(f'{c} = ?' for c in columns)} WHERE id = ?",
                [*values, run_id],
            )

    def runs(self, *, limit: int = 20) -> list[dict[str, Any]]:
        rows = []
        for row in self.db.query(f"SELECT * FROM runs ORDER BY id DESC LIMIT {int(limit)}"):
            row = dict(row)
            row["failures"] = json.loads(row["failures"])
            row["notes"] = json.loads(row["notes"])
            rows.append(row)
        return rows

    def last_successful_run_since(self, moment: str) -> dict[str, Any] | None:
        """The latest run that finished ``ok`` and started at or after ``moment`` (ISO)."""
        rows = list(
            self.db.query(
                "SELECT * FROM runs WHERE status = 'ok' AND started_at >= ? "
                "ORDER BY id DESC LIMIT 1",
                [moment],
            )
        )
        return rows[0] if rows else None

    # --- web queries (the `digest serve` admin pages and subscriber links) ----------------

    def subscriber_status_counts(self) -> dict[str, int]:
        """status → number of subscribers with it (statuses nobody has are left out)."""
        return {
            row[0]: int(row[1])
            for row in self.db.execute(
                "SELECT status, count(*) FROM subscribers GROUP BY status ORDER BY status"
            )
        }

    def papers_per_day(self, *, days: int) -> list[tuple[str, int]]:
        """(first-seen day, papers) for the latest ``days`` days that got papers, newest first."""
        return [
            (row[0], int(row[1]))
            for row in self.db.execute(
                "SELECT first_seen, count(*) FROM papers GROUP BY first_seen "
                "ORDER BY first_seen DESC LIMIT ?",
                [int(days)],
            )
        ]

    def paper_page(self, *, offset: int, limit: int) -> list[Paper]:
        """One page of papers, newest first (the order of :meth:`papers`)."""
        return self._papers(
            "ORDER BY p.first_seen DESC, p.rowid LIMIT ? OFFSET ?", [int(limit), int(offset)]
        )

    def paper_exists(self, paper_id: str) -> bool:
        row = self.db.execute("SELECT 1 FROM papers WHERE id = ?", [paper_id]).fetchone()
        return row is not None

    def paper_activity(self, paper_ids: Iterable[str]) -> dict[str, dict[str, int]]:
        """paper id → {"sent": subscribers sent it, "more": +1 votes, "less": -1 votes}."""
        ids = sorted(set(paper_ids))
        activity = {i: {"sent": 0, "more": 0, "less": 0} for i in ids}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            for paper_id, sent in self.db.execute(
                f"SELECT paper_id, count(*) FROM sends WHERE paper_id IN ({marks}) "
                "GROUP BY paper_id",
                chunk,
            ):
                activity[paper_id]["sent"] = int(sent)
            for paper_id, more, less in self.db.execute(
                "SELECT paper_id, sum(vote > 0), sum(vote < 0) FROM feedback "
                f"WHERE paper_id IN ({marks}) GROUP BY paper_id",
                chunk,
            ):
                activity[paper_id]["more"] = int(more)
                activity[paper_id]["less"] = int(less)
        return activity

    def paper_sends(self, paper_id: str) -> list[dict[str, Any]]:
        """Who was sent a paper: subscriber id and email, when, and in which digest date."""
        return [
            dict(row)
            for row in self.db.query(
                "SELECT s.subscriber_id, sub.email, s.sent_at, d.digest_date FROM sends s "
                "JOIN subscribers sub ON sub.id = s.subscriber_id "
                "LEFT JOIN digests d ON d.id = s.digest_id "
                "WHERE s.paper_id = ? ORDER BY s.sent_at DESC, sub.email",
                [paper_id],
            )
        ]

    def paper_feedback(self, paper_id: str) -> list[dict[str, Any]]:
        """Every vote on a paper, newest first, with the voter's email."""
        return [
            dict(row)
            for row in self.db.query(
                "SELECT f.id, f.subscriber_id, sub.email, f.vote, f.source, f.created_at "
                "FROM feedback f JOIN subscribers sub ON sub.id = f.subscriber_id "
                "WHERE f.paper_id = ? ORDER BY f.id DESC",
                [paper_id],
            )
        ]

    def subscriber_feedback(self, subscriber_id: int, *, limit: int = 50) -> list[dict[str, Any]]:
        """A subscriber's latest votes, newest first, with the papers' titles."""
        return [
            dict(row)
            for row in self.db.query(
                "SELECT f.id, f.paper_id, p.title, f.vote, f.source, f.created_at "
                "FROM feedback f JOIN papers p ON p.id = f.paper_id "
                "WHERE f.subscriber_id = ? ORDER BY f.id DESC LIMIT ?",
                [subscriber_id, int(limit)],
            )
        ]

    def feedback_count(self, *, source: str | None = None) -> int:
        """Rows in ``feedback`` (every vote ever cast, repeats included)."""
        where, args = ("WHERE source = ?", [source]) if source else ("", [])
        return int(self.db.execute(f"SELECT count(*) FROM feedback {where}", args).fetchone()[0])


# --- identity and merge (pure helpers used by ingest_listing) ------------------------------


@dataclass(frozen=True)
class _Identified:
    record: PaperRecord
    id: str
    id_kind: str
    title_key: str


_PAPER_COLUMNS = (
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
)
_INSERT_PAPER = (
    f"INSERT INTO papers ({', '.join(_PAPER_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_PAPER_COLUMNS))})"
)
# What a repeat can change in a stored paper (its id changes through a rename first).
_UPDATED_COLUMNS = ("authors", "url", "published", "upvotes", "categories", "updated_at")
_INGEST_CHUNK = 5000  # records identified, looked up, merged and inserted together


class _BackgroundIndexer:
    """Indexes (FTS5) each chunk's new papers on a helper thread while the ingest parses
    the next chunk: SQLite tokenizes without holding Python's GIL, so the two run at once
    on two cores. One thread at a time uses the connection: the ingest calls :meth:`wait`
    before it touches it again, and leaving the block waits too (also on an error, before
    the transaction is rolled back)."""

    def __init__(self, store: Store, since_rowid: int) -> None:
        self._store = store
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
        self._pending = self._pool.submit(self._store._index_papers_after, self._since)

    def wait(self) -> None:
        """Until the indexing started last has finished; raises its error."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._since = pending.result()


def _paper_values(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[c] for c in _PAPER_COLUMNS)


def _chunks(records: Iterable[PaperRecord], size: int) -> Iterator[list[PaperRecord]]:
    chunk: list[PaperRecord] = []
    for record in records:
        chunk.append(record)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _json_list(values: Sequence[str]) -> str:
    """``json.dumps(list(values), ensure_ascii=False)`` for strings, without building an
    encoder per call (a third of the cost of storing a record's authors)."""
    if not values:
        return "[]"
    return "[" + ", ".join(map(encode_basestring, values)) + "]"


def _identify(record: PaperRecord) -> _Identified:
    """A record's paper id: arXiv id, else the listing's own id, else a title hash."""
    title_key = normalize_title(record.title)
    arxiv = (
        record.arxiv_id  # the parsers give it without its version already
        or (arxiv_id_from(record.source_id) if record.source_id else None)
        or (arxiv_id_from(record.url) if record.url else None)
    )
    if arxiv:
        return _Identified(record, arxiv, "arxiv", title_key)
    if record.source_id and record.source_id.strip():
        return _Identified(record, record.source_id.strip(), "source", title_key)
    digest = hashlib.sha256(title_key.encode("utf-8")).hexdigest()[:16]
    return _Identified(record, f"t:{digest}", "title", title_key)


class _Merge:
    """Folds one listing's records, chunk by chunk, into the papers already stored.

    New rows are handed out after each chunk (:meth:`take_new_rows`) and inserted; a row
    that a later record changes is then updated at the end, like a row stored before.
    """

    def __init__(self) -> None:
        self.rows_by_id: dict[str, dict[str, Any]] = {}
        self.rows_by_key: dict[str, dict[str, Any]] = {}
        self.renames: list[tuple[str, tuple[str, str]]] = []
        self.dirty: dict[int, dict[str, Any]] = {}  # written rows to update, by identity
        self.placements: list[tuple[dict[str, Any], int]] = []
        self.created = 0
        self.updated = 0
        self.duplicates = 0
        self._created_here: set[int] = set()  # rows this listing created (for the counts)
        self._unwritten: list[dict[str, Any]] = []
        self._unwritten_ids: set[int] = set()

    def learn(self, stored: list[dict[str, Any]]) -> None:
        """Remember rows read from the database. One already in memory (found again under
        an id it had before a rename here) is the same paper: alias it, keep ours."""
        for row in stored:
            mine = self.rows_by_key.get(row["title_key"])
            if mine is None:
                self._index(row)
            else:
                self.rows_by_id.setdefault(row["id"], mine)

    def _index(self, row: dict[str, Any]) -> None:
        self.rows_by_id[row["id"]] = row
        self.rows_by_key[row["title_key"]] = row

    def take_new_rows(self) -> list[dict[str, Any]]:
        """Rows created since the last call; from now on they count as written."""
        rows, self._unwritten = self._unwritten, []
        self._unwritten_ids.clear()
        return rows

    def add(self, item: _Identified, position: int, *, first_seen: str, now: str) -> None:
        row = self.rows_by_id.get(item.id) or self.rows_by_key.get(item.title_key)
        rec = item.record
        if row is None:
            row = {
                "id": item.id,
                "id_kind": item.id_kind,
                "title": rec.title,
                "abstract": rec.abstract,
                "title_key": item.title_key,
                "authors": _json_list(rec.authors),
                "url": rec.url,
                "published": rec.published,
                "upvotes": rec.upvotes,
                "categories": _json_list(rec.categories),
                "first_seen": first_seen,
                "updated_at": now,
            }
            self._index(row)
            self._unwritten.append(row)
            self._unwritten_ids.add(id(row))
            self._created_here.add(id(row))
            self.created += 1
            self.placements.append((row, position))
            return
        self.placements.append((row, position))
        changed = self._fill_in(row, item)
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

    def _fill_in(self, row: dict[str, Any], item: _Identified) -> bool:
        rec = item.record
        changed = False
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
            row["authors"] = _json_list(rec.authors)
            changed = True
        if rec.categories and row["categories"] == "[]":
            row["categories"] = _json_list(rec.categories)
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
