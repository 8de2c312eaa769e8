"""The SQLite store: the one package that holds SQL.

Opened through ``sqlite_utils.Database`` with WAL, foreign keys on and a busy timeout so a
second process waits instead of failing. The schema is built by recorded migrations
(``migrations`` table) from an empty file. Each unit of work is one transaction.

One module per aggregate, over one shared connection (:mod:`.db`):

- :mod:`.papers`: ``papers`` (one row per distinct paper; ``id`` is the arXiv id when
  known, else the listing's own id, else ``t:`` + a hash of the normalized title, and
  ``title_key``, the normalized title; ``version``, the newest arXiv version seen;
  ``is_new``, 0 for an old paper first seen as a replacement, never a candidate),
  ``paper_titles`` (every title a paper was seen under, its normalized key indexed and
  not unique: papers with different arXiv ids may share one), ``papers_fts`` (FTS5 over
  title and abstract), ``listings`` (every file ingested or tried) and ``paper_listings``; the
  identity and merge rules themselves are pure code in :mod:`.merge`.
- :mod:`.subscribers`: ``subscribers``, ``profiles``, ``profile_history``, ``feedback``.
- :mod:`.digests`: ``digests`` (pending → rendered → sent/skipped/failed), ``sends`` and
  ``runs``; :mod:`.digest_batches`, the same state changes a batch at a time (the daily
  run's outbox path), in one transaction of a few statements per batch.
- :mod:`.web_sessions`: ``web_sessions`` and ``login_failures`` (``digest serve``'s admin
  sessions and failed sign-ins).
- :mod:`.signups`: ``signups`` (public sign-ups awaiting confirmation) and
  ``signup_attempts`` (what the sign-up limits count).
- :mod:`.digest_pages`: ``digest_pages`` (each sent digest's HTML, for "view in browser").
- :mod:`.reports`: read-only queries for the admin pages.
- :mod:`.schema`: the migrations.

:class:`Store` puts the aggregates' classes together as mixins: callers hold one object
and one connection (sqlite3 connections must not cross threads, and a unit of work such as
marking a digest sent spans two aggregates in one transaction), while each module keeps
its own SQL. This module may import every module of the package; they import only
:mod:`.db`, :mod:`.schema` and :mod:`.merge` from it, never each other's classes
(:mod:`.digest_batches`, the digests aggregate's second file, shares its picks encoding).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .db import BUSY_TIMEOUT, busy, cannot_open, connect, is_busy
from .digest_batches import ClaimOutcome, DigestBatchStore, DigestClaim, SentDigest
from .digest_pages import KEEP_DAYS as DIGEST_PAGE_DAYS
from .digest_pages import DigestPage, DigestPageStore, compress_page
from .digests import DigestRow, DigestStore, RunFailure, RunResult, RunRow
from .papers import IngestCounts, ListingInfo, ListingRow, PaperStore
from .reports import PaperActivity, PaperDays, PaperSend, PaperVote, ReportStore, SubscriberVote
from .schema import MIGRATIONS, migrate
from .signups import Signup, SignupStore
from .subscribers import (
    ProfileChange,
    StatusChange,
    SubscriberSettings,
    SubscriberStore,
    SubscriberUpdate,
    describe_profile_change,
)
from .web_sessions import WebSession, WebSessionStore

__all__ = [
    "DIGEST_PAGE_DAYS",
    "MIGRATIONS",
    "ClaimOutcome",
    "DigestClaim",
    "DigestPage",
    "DigestRow",
    "IngestCounts",
    "ListingInfo",
    "ListingRow",
    "PaperActivity",
    "PaperDays",
    "PaperSend",
    "PaperVote",
    "ProfileChange",
    "RunFailure",
    "RunResult",
    "RunRow",
    "SentDigest",
    "Signup",
    "StatusChange",
    "Store",
    "SubscriberSettings",
    "SubscriberUpdate",
    "SubscriberVote",
    "WebSession",
    "compress_page",
    "describe_profile_change",
]


class Store(
    PaperStore,
    SubscriberStore,
    DigestStore,
    DigestBatchStore,
    ReportStore,
    WebSessionStore,
    SignupStore,
    DigestPageStore,
):
    """All reads and writes of digest's SQLite database."""

    @classmethod
    def open(cls, path: Path, *, create: bool = False, busy_timeout: float = BUSY_TIMEOUT) -> Store:
        """Open the database at ``path`` and bring its schema up to date.

        Without ``create`` a missing file is an error that says how to make one. A write
        that waits more than ``busy_timeout`` seconds for another process is a
        :class:`~digest.errors.StoreError` ("the database is busy …; try again").
        """
        store = cls(connect(path, create=create, busy_timeout=busy_timeout), path)
        try:
            store.migrate()
        except sqlite3.DatabaseError as exc:
            if is_busy(exc):
                raise busy(path, exc) from exc
            raise cannot_open(path, exc) from exc
        return store

    def migrate(self) -> list[str]:
        """Apply the migrations this database has not had yet; return their names."""
        return migrate(self.db, self.path)
