"""The schema: the recorded migrations that build the database from an empty file.

Each migration runs once, in its own transaction, and is recorded by name in the
``migrations`` table; a database with a migration this code does not know was made by a
newer digest and is refused. Owns the table definitions (see :mod:`digest.store` for what
each table holds) and the FTS insert trigger's text, which the ingest re-creates.

May import: the standard library, ``sqlite_utils``, :mod:`digest.errors` and
:mod:`digest.store.db`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import sqlite_utils

from ..errors import StoreError
from .db import transaction


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
FTS_INSERT_TRIGGER = """
CREATE TRIGGER papers_ai AFTER INSERT ON papers BEGIN
  INSERT INTO papers_fts (rowid, title, abstract) VALUES (new.rowid, new.title, new.abstract);
END
"""


def _m005_fts_insert_trigger_text(db: sqlite_utils.Database) -> None:
    # The same trigger sqlite-utils made, in the text the ingest re-creates.
    db.execute("DROP TRIGGER papers_ai")
    db.execute(FTS_INSERT_TRIGGER)


# The condition on ``papers p`` that leaves out the papers of an ingest in progress
# (see _m006_staged_ingest); every read of papers has it.
VISIBLE = "p.rowid NOT IN (SELECT paper_rowid FROM staged_papers)"


def _m006_staged_ingest(db: sqlite_utils.Database) -> None:
    # An ingest commits chunk by chunk (no write transaction of more than about a second)
    # and hides what it has written until the whole file is in: the new papers of the
    # listing being ingested are named here (every read of papers leaves them out), its
    # placements wait here for the listing row, and a failed or crashed ingest deletes
    # them again. Both tables are empty between ingests.
    db.executescript(
        """
        CREATE TABLE staged_papers (
            paper_rowid INTEGER PRIMARY KEY,          -- papers.rowid (stable across renames)
            indexed INTEGER NOT NULL DEFAULT 0        -- 1 once in papers_fts
        );
        CREATE INDEX staged_papers_unindexed ON staged_papers (paper_rowid) WHERE indexed = 0;
        CREATE TABLE staged_placements (
            paper_id TEXT PRIMARY KEY
                REFERENCES papers (id) ON UPDATE CASCADE ON DELETE CASCADE,
            position INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE staged_aliases (                 -- ids renamed during the ingest
            old_id TEXT PRIMARY KEY,
            paper_rowid INTEGER NOT NULL
        ) WITHOUT ROWID;
        """
    )


MIGRATIONS: tuple[tuple[str, Callable[[sqlite_utils.Database], None]], ...] = (
    ("001_papers_and_listings", _m001_papers_and_listings),
    ("002_subscribers_profiles_feedback_sends", _m002_subscribers),
    ("003_runs", _m003_runs),
    ("004_fts_bulk_settings", _m004_fts_bulk_settings),
    ("005_fts_insert_trigger_text", _m005_fts_insert_trigger_text),
    ("006_staged_ingest", _m006_staged_ingest),
)


# --- the store ----------------------------------------------------------------------------


def migrate(db: sqlite_utils.Database, path: Path | None) -> list[str]:
    """Apply the migrations this database has not had yet; return their names."""
    conn = db.conn
    conn.execute(
        "CREATE TABLE IF NOT EXISTS migrations "
        "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT (datetime('now')))"
    )
    done = {row[0] for row in conn.execute("SELECT name FROM migrations")}
    known = {name for name, _ in MIGRATIONS}
    unknown = done - known
    if unknown:
        raise StoreError(
            f"{path}: the database was made by a newer digest "
            f"(migrations {', '.join(sorted(unknown))}); upgrade digest"
        )
    applied = []
    for name, migration in MIGRATIONS:
        if name in done:
            continue
        with transaction(conn):
            migration(db)
            conn.execute("INSERT INTO migrations (name) VALUES (?)", [name])
        applied.append(name)
    return applied
