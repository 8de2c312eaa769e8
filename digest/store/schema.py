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


def _m006_ids_never_reused(db: sqlite_utils.Database) -> None:
    # An emailed link names its subscriber by id. Without AUTOINCREMENT SQLite gives a
    # purged subscriber's id (the highest) to the next one added, and the old links would
    # act on the new person. The table is rebuilt (SQLite cannot add AUTOINCREMENT in
    # place) with every row and id kept; the tables that point at it keep pointing at it
    # by name. Runs with foreign keys off (see migrate), so dropping the old table does
    # not cascade. (An id purged before this migration left no trace in the database, so
    # it cannot be reserved: only ids purged from now on are never given again.)
    # One statement at a time: executescript() would commit the migration's transaction.
    for statement in (
        f"CREATE TABLE subscribers_new ({_SUBSCRIBER_COLUMNS_V2})",
        "INSERT INTO subscribers_new SELECT id, email, name, status, frequency, timezone, "
        "max_papers, min_score, quiet_day, hard_failures, created, updated FROM subscribers",
        "DROP TABLE subscribers",
        "ALTER TABLE subscribers_new RENAME TO subscribers",
        "CREATE INDEX subscribers_status ON subscribers (status)",
    ):
        db.execute(statement)


_SUBSCRIBER_COLUMNS_V2 = """
    id INTEGER PRIMARY KEY AUTOINCREMENT,
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
"""


def _m007_web_sessions_and_login_failures(db: sqlite_utils.Database) -> None:
    # `digest serve`'s admin sessions and failed sign-ins, shared by all its workers
    # (see digest.store.web_sessions). A session's key is the SHA-256 of its cookie.
    db.execute(
        "CREATE TABLE web_sessions (key TEXT PRIMARY KEY, data TEXT NOT NULL, "
        "password_tag TEXT NOT NULL, expires_at TEXT NOT NULL)"
    )
    db.execute("CREATE TABLE login_failures (client TEXT NOT NULL, at TEXT NOT NULL)")
    db.execute("CREATE INDEX login_failures_client ON login_failures (client)")


def _m008_runs_new_papers_first_seen(db: sqlite_utils.Database) -> None:
    # runs.new_papers counted what the run's own ingest added; it now means what the emails
    # and the dashboard mean: papers first seen on the run's digest date.
    db.execute(
        "UPDATE runs SET new_papers = "
        "(SELECT count(*) FROM papers WHERE papers.first_seen = runs.digest_date)"
    )


def _m009_subscriber_status_changes(db: sqlite_utils.Database) -> None:
    # Who last changed a subscriber's status and when: resuming someone who unsubscribed
    # must say whose choice it overrides. Earlier changes are dated by their last update.
    # One statement at a time: executescript() would commit the migration's transaction.
    db.execute("ALTER TABLE subscribers ADD COLUMN status_changed_at TEXT")
    db.execute("ALTER TABLE subscribers ADD COLUMN status_changed_by TEXT")  # NULL: not recorded
    db.execute("UPDATE subscribers SET status_changed_at = updated WHERE status != 'active'")


# The condition on ``papers p`` that leaves out the papers of an ingest in progress
# (see _m010_staged_ingest); every read of papers has it.
VISIBLE = "p.rowid NOT IN (SELECT paper_rowid FROM staged_papers)"


def _m010_staged_ingest(db: sqlite_utils.Database) -> None:
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


def _m011_titles_not_unique(db: sqlite_utils.Database) -> None:
    # Two papers with different arXiv ids may share a title (issue 12): the title key
    # stays indexed for the merge's lookups, no longer unique.
    db.conn.execute("DROP INDEX papers_title_key")
    db.conn.execute("CREATE INDEX papers_title_key ON papers (title_key)")


def _m012_signups_and_digest_pages(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE signups (                        -- public sign-ups awaiting confirmation
            id INTEGER PRIMARY KEY AUTOINCREMENT,     -- never reused: links name it
            email TEXT NOT NULL,                      -- lowercased
            name TEXT NOT NULL DEFAULT '',
            keywords TEXT NOT NULL DEFAULT '[]',      -- JSON list of "term^weight" strings
            frequency TEXT NOT NULL DEFAULT 'daily',
            client TEXT NOT NULL,                     -- the address it came from
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        );
        CREATE INDEX signups_email ON signups (email);
        CREATE TABLE signup_attempts (                -- for the sign-up limits
            id INTEGER PRIMARY KEY,
            client TEXT NOT NULL,
            email TEXT,                               -- set when an email went to it
            at TEXT NOT NULL
        );
        CREATE INDEX signup_attempts_client ON signup_attempts (client, at);
        CREATE INDEX signup_attempts_email ON signup_attempts (email, at)
            WHERE email IS NOT NULL;
        CREATE TABLE digest_pages (                   -- each sent digest's HTML, for /d/TOKEN
            digest_id INTEGER PRIMARY KEY REFERENCES digests (id) ON DELETE CASCADE,
            html BLOB NOT NULL,                       -- zlib of the UTF-8 HTML part
            stored_at TEXT NOT NULL
        );
        CREATE INDEX digest_pages_stored_at ON digest_pages (stored_at);
        """
    )


def _m013_follows_and_reference_papers(db: sqlite_utils.Database) -> None:
    # Issue 13: a profile follows authors and arXiv categories and may exclude categories;
    # a library import stores papers not yet listed as *reference* papers (used for
    # ranking, never candidates) until a real listing carries them. A listing that does
    # names them in staged_references, and its publish makes them normal papers (first
    # seen that day), so a failed ingest changes nothing.
    # One statement at a time: executescript() would commit the migration's transaction.
    for statement in (
        "ALTER TABLE profiles ADD COLUMN authors TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE profiles ADD COLUMN categories TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE profiles ADD COLUMN exclude_categories TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE papers ADD COLUMN reference INTEGER NOT NULL DEFAULT 0",
        "CREATE INDEX papers_reference ON papers (reference) WHERE reference = 1",
        "CREATE TABLE staged_references (paper_rowid INTEGER PRIMARY KEY, "
        "first_seen TEXT NOT NULL)",
    ):
        db.execute(statement)


def _m014_versions_titles_announcements(db: sqlite_utils.Database) -> None:
    # Issue 12: a paper keeps one row across its arXiv versions and titles. ``version`` is
    # the newest arXiv version seen (NULL: never said); ``is_new`` is 0 for a paper first
    # seen as a replacement of an older paper (or an unwanted cross-list), which is stored
    # for reference and never a candidate. ``paper_titles`` holds every title a paper was
    # seen under (its key as normalize_title makes it): title-only records match any of
    # them. A paper's rows go with it (renamed or deleted, e.g. a failed ingest's papers).
    for statement in (
        "ALTER TABLE papers ADD COLUMN version INTEGER",
        "ALTER TABLE papers ADD COLUMN is_new INTEGER NOT NULL DEFAULT 1",
        """CREATE TABLE paper_titles (
            paper_id TEXT NOT NULL
                REFERENCES papers (id) ON UPDATE CASCADE ON DELETE CASCADE,
            title_key TEXT NOT NULL,
            title TEXT NOT NULL,
            PRIMARY KEY (paper_id, title_key)
        ) WITHOUT ROWID""",
        "CREATE INDEX paper_titles_key ON paper_titles (title_key)",
        # Titles are looked up here now; the papers' own title index would only cost.
        "DROP INDEX papers_title_key",
        # A title-only paper folded into its arXiv paper moves its votes by paper.
        "CREATE INDEX feedback_paper ON feedback (paper_id)",
        "INSERT INTO paper_titles (paper_id, title_key, title) "
        "SELECT id, title_key, title FROM papers",
    ):
        db.execute(statement)


def _m015_run_report_counts(db: sqlite_utils.Database) -> None:
    # A run's digests that did not go out for a reason other than a quiet day: the
    # subscriber unsubscribed (or was paused) during the run, or was purged during it, or a
    # delivery error left the digest pending for the next run. They were counted as
    # skipped, already done and failed.
    for column in ("unsubscribed", "removed", "pending"):
        db.execute(f"ALTER TABLE runs ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0")
    # A run whose process died is read with the digests it marked sent as its count.
    db.execute("CREATE INDEX digests_run_sent ON digests (run_id) WHERE status = 'sent'")


def _m016_staged_folds(db: sqlite_utils.Database) -> None:
    # A title-only paper stored before a listing, found to be an arXiv paper the listing
    # itself created (its v1 under another title, then v2 under this one), is folded into
    # it when the listing is published, not before: a failed ingest deletes the rows it
    # created and must leave the stored paper as it was. Empty between ingests.
    db.execute(
        "CREATE TABLE staged_folds (stray_rowid INTEGER PRIMARY KEY, paper_rowid INTEGER NOT NULL)"
    )


def _m017_paper_aliases(db: sqlite_utils.Database) -> None:
    # An id a paper no longer has (a listing's own id replaced by its arXiv id, or the id of
    # a paper folded into it) still names it: a later record under the old id is the same
    # paper, not a new one sent again. (staged_aliases keeps them only for one ingest.)
    db.execute(
        """CREATE TABLE paper_aliases (
            old_id TEXT PRIMARY KEY,
            paper_id TEXT NOT NULL
                REFERENCES papers (id) ON UPDATE CASCADE ON DELETE CASCADE
        ) WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX paper_aliases_paper ON paper_aliases (paper_id)")


MIGRATIONS: tuple[tuple[str, Callable[[sqlite_utils.Database], None]], ...] = (
    ("001_papers_and_listings", _m001_papers_and_listings),
    ("002_subscribers_profiles_feedback_sends", _m002_subscribers),
    ("003_runs", _m003_runs),
    ("004_fts_bulk_settings", _m004_fts_bulk_settings),
    ("005_fts_insert_trigger_text", _m005_fts_insert_trigger_text),
    ("006_subscriber_ids_never_reused", _m006_ids_never_reused),
    ("007_web_sessions_and_login_failures", _m007_web_sessions_and_login_failures),
    ("008_runs_new_papers_first_seen", _m008_runs_new_papers_first_seen),
    ("009_subscriber_status_changes", _m009_subscriber_status_changes),
    ("010_staged_ingest", _m010_staged_ingest),
    ("011_titles_not_unique", _m011_titles_not_unique),
    ("012_signups_and_digest_pages", _m012_signups_and_digest_pages),
    ("013_follows_and_reference_papers", _m013_follows_and_reference_papers),
    ("014_versions_titles_announcements", _m014_versions_titles_announcements),
    ("015_run_report_counts", _m015_run_report_counts),
    ("016_staged_folds", _m016_staged_folds),
    ("017_paper_aliases", _m017_paper_aliases),
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
    applied: list[str] = []
    pending = [(name, migration) for name, migration in MIGRATIONS if name not in done]
    if not pending:
        return applied
    # A migration that rebuilds a table must not cascade its DROP to the rows pointing at
    # it; the pragma cannot change inside a transaction, so it is off for all of them, and
    # each migration checks the keys before it commits.
    enforced = bool(conn.execute("PRAGMA foreign_keys").fetchone()[0])
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        for name, migration in pending:
            with transaction(conn):
                migration(db)
                broken = conn.execute("PRAGMA foreign_key_check").fetchone()
                if broken is not None:
                    raise StoreError(
                        f"{path}: migration {name} left a row of {broken[0]} pointing at a "
                        f"missing {broken[2]} row; nothing was changed, report this"
                    )
                conn.execute("INSERT INTO migrations (name) VALUES (?)", [name])
            applied.append(name)
    finally:
        if enforced:
            conn.execute("PRAGMA foreign_keys = ON")
    return applied
