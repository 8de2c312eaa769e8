"""Reports: the read-only queries behind the admin pages (dashboard counts, a paper's
sends and votes, a subscriber's latest votes).

Owns no table; it reads ``papers``, ``subscribers``, ``feedback``, ``sends`` and
``digests``. May import: the standard library and :mod:`digest.store.db`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from .db import StoreBase, in_chunks
from .schema import VISIBLE


@dataclass(frozen=True)
class PaperActivity:
    """What happened to one paper: subscribers sent it, "more" and "less" votes, and
    whether it is a library import's reference paper (used to rank, never sent)."""

    sent: int = 0
    more: int = 0
    less: int = 0
    reference: bool = False


@dataclass(frozen=True)
class PaperDays:
    """The days with public papers around one day: the first of all, and the nearest before
    and after it (None where there is none)."""

    first: dt.date | None
    previous: dt.date | None
    next: dt.date | None


@dataclass(frozen=True)
class PaperSend:
    """One subscriber a paper was sent to (times as stored, ISO 8601)."""

    subscriber_id: int
    email: str
    sent_at: str
    digest_date: str | None  # None when the digest row is gone


@dataclass(frozen=True)
class PaperVote:
    """One vote on a paper, with the voter's email."""

    id: int
    subscriber_id: int
    email: str
    vote: int
    source: str
    created_at: str


@dataclass(frozen=True)
class SubscriberVote:
    """One vote of a subscriber, with the paper's title."""

    id: int
    paper_id: str
    title: str
    vote: int
    source: str
    created_at: str


class ReportStore(StoreBase):
    """Queries for the admin pages."""

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
                f"SELECT first_seen, count(*) FROM papers p WHERE {VISIBLE} AND reference = 0 "
                "GROUP BY first_seen "
                "ORDER BY first_seen DESC LIMIT ?",
                [int(days)],
            )
        ]

    def paper_days(self, day: dt.date, *, last: dt.date) -> PaperDays:
        """The first day with public papers, and the days with papers nearest ``day``: the
        one before it, and the one after it but not after ``last`` (the public pages' today).
        Reads the ``first_seen`` index; only the papers the day's page lists count (new
        ones: not a library's reference papers, nor old papers first seen as replacements)."""
        public = f"FROM papers p WHERE {VISIBLE} AND reference = 0 AND is_new = 1"

        def one(sql: str, args: list[str]) -> dt.date | None:
            value = self.db.execute(sql, args).fetchone()[0]
            return dt.date.fromisoformat(value) if value else None

        return PaperDays(
            first=one(f"SELECT min(first_seen) {public}", []),
            previous=one(f"SELECT max(first_seen) {public} AND first_seen < ?", [day.isoformat()]),
            next=one(
                f"SELECT min(first_seen) {public} AND first_seen > ? AND first_seen <= ?",
                [day.isoformat(), last.isoformat()],
            ),
        )

    def paper_activity(self, paper_ids: Iterable[str]) -> dict[str, PaperActivity]:
        """paper id → how many subscribers were sent it, its +1 / -1 votes, and whether it
        is a reference paper."""
        ids = sorted(set(paper_ids))
        sent: dict[str, int] = {}
        votes: dict[str, tuple[int, int]] = {}
        references: set[str] = set()
        for chunk, marks in in_chunks(ids):
            references.update(
                row[0]
                for row in self.db.execute(
                    f"SELECT id FROM papers WHERE id IN ({marks}) AND reference = 1", chunk
                )
            )
            for paper_id, count in self.db.execute(
                f"SELECT paper_id, count(*) FROM sends WHERE paper_id IN ({marks}) "
                "GROUP BY paper_id",
                chunk,
            ):
                sent[paper_id] = int(count)
            for paper_id, more, less in self.db.execute(
                "SELECT paper_id, sum(vote > 0), sum(vote < 0) FROM feedback "
                f"WHERE paper_id IN ({marks}) GROUP BY paper_id",
                chunk,
            ):
                votes[paper_id] = (int(more), int(less))
        return {
            i: PaperActivity(sent.get(i, 0), *votes.get(i, (0, 0)), reference=i in references)
            for i in ids
        }

    def paper_sends(self, paper_id: str) -> list[PaperSend]:
        """Who was sent a paper: subscriber id and email, when, and in which digest date;
        latest first."""
        return [
            PaperSend(**row)
            for row in self.db.query(
                "SELECT s.subscriber_id, sub.email, s.sent_at, d.digest_date FROM sends s "
                "JOIN subscribers sub ON sub.id = s.subscriber_id "
                "LEFT JOIN digests d ON d.id = s.digest_id "
                # julianday(): by instant, whatever UTC offset each time was written with
                "WHERE s.paper_id = ? ORDER BY julianday(s.sent_at) DESC, sub.email",
                [paper_id],
            )
        ]

    def paper_feedback(self, paper_id: str) -> list[PaperVote]:
        """Every vote on a paper, newest first, with the voter's email."""
        return [
            PaperVote(**row)
            for row in self.db.query(
                "SELECT f.id, f.subscriber_id, sub.email, f.vote, f.source, f.created_at "
                "FROM feedback f JOIN subscribers sub ON sub.id = f.subscriber_id "
                "WHERE f.paper_id = ? ORDER BY f.id DESC",
                [paper_id],
            )
        ]

    def subscriber_feedback(self, subscriber_id: int, *, limit: int = 50) -> list[SubscriberVote]:
        """A subscriber's latest votes, newest first, with the papers' titles."""
        return [
            SubscriberVote(**row)
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
