"""Digests and runs: the state machine of each subscriber's digest for a date
(open → claim → sent, skipped, failed or released), the papers each subscriber was sent,
and the run reports.

Owns the tables ``digests``, ``sends`` and ``runs`` (and, when a delivery fails for good,
the subscriber's ``hard_failures`` count and ``bounced`` status).

May import: the standard library, :mod:`digest.errors`, :mod:`digest.records` and
:mod:`digest.store.db`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from ..records import Pick
from .db import StoreBase, day_text, in_chunks, stamp


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


OPEN_BATCH = 1000  # digests opened per transaction

_DIGEST_COLUMNS = (
    "id, subscriber_id, digest_date, status, message_id, picks, error, attempts, claimed_by"
)


@dataclass(frozen=True)
class RunFailure:
    """A digest a run could not deliver, and why; ``retry``: the digest was left pending
    (a transport error, a transient refusal) and the next run tries it again."""

    email: str
    reason: str
    retry: bool = False


@dataclass(frozen=True)
class RunResult:
    """How a run ended, as :meth:`DigestStore.finish_run` records it."""

    finished_at: dt.datetime
    status: str
    listings_ingested: int
    new_papers: int
    subscribers_due: int
    sent: int
    skipped: int
    failed: int
    already_done: int
    failures: tuple[RunFailure, ...]
    notes: tuple[str, ...]
    duration_seconds: float
    unsubscribed: int = 0
    removed: int = 0
    pending: int = 0


_RUN_COUNTS = (
    "listings_ingested",
    "new_papers",
    "subscribers_due",
    "sent",
    "skipped",
    "failed",
    "already_done",
    "unsubscribed",
    "removed",
    "pending",
)

# How a run whose process is gone reads (it never recorded its end).
GONE_NOTE = "the process is gone (killed or crashed); the next run finishes its work"


@dataclass(frozen=True)
class RunRow:
    """One row of ``runs``: a run report (times and the date as stored, ISO 8601).

    The counts: ``sent``; ``skipped`` (nothing above the threshold); ``unsubscribed``
    (unsubscribed, paused or bounced during the run: nothing sent); ``removed`` (purged
    during the run); ``already_done`` (sent or skipped by an earlier run); ``pending``
    (a delivery error left the digest pending: the next run retries it); ``failed``
    (failed for good). A run still ``running`` reads its ``sent`` from its digests.
    """

    id: int
    started_at: str
    finished_at: str | None
    digest_date: str
    status: str
    trigger: str
    transport: str
    listings_ingested: int
    new_papers: int
    subscribers_due: int
    sent: int
    skipped: int
    failed: int
    already_done: int
    failures: tuple[RunFailure, ...]
    notes: tuple[str, ...]
    duration_seconds: float | None
    pid: int | None
    unsubscribed: int = 0
    removed: int = 0
    pending: int = 0


# The digests a run marked sent (each claim records its run; "sent" is final), read through
# the index digests_run_sent.
_SENT_BY_RUN = "(SELECT count(*) FROM digests WHERE run_id = runs.id AND status = 'sent')"


def _digest(row: Sequence[Any]) -> DigestRow:
    values = list(row)
    values[5] = tuple(
        Pick(p["id"], float(p["score"]), tuple(p["reasons"])) for p in json.loads(values[5])
    )
    return DigestRow(*values)


# json.dumps(..., ensure_ascii=False) builds an encoder per call: the run encodes one
# picks list per digest.
_PICKS_ENCODER = json.JSONEncoder(ensure_ascii=False)


def picks_json(picks: Sequence[Pick]) -> str:
    """The ``picks`` column's JSON: ``[{"id", "score", "reasons"}]``, in order."""
    return _PICKS_ENCODER.encode(
        [{"id": p.paper_id, "score": round(p.score, 6), "reasons": list(p.reasons)} for p in picks]
    )


class DigestStore(StoreBase):
    """Digests, sends and runs."""

    # --- digests --------------------------------------------------------------------------

    def digest_row(self, subscriber_id: int, digest_date: dt.date) -> DigestRow | None:
        row = self.db.execute(
            f"SELECT {_DIGEST_COLUMNS} FROM digests WHERE subscriber_id = ? AND digest_date = ?",
            [subscriber_id, day_text(digest_date)],
        ).fetchone()
        return _digest(row) if row else None

    def open_digest(
        self, subscriber_id: int, digest_date: dt.date, *, now: dt.datetime
    ) -> DigestRow | None:
        """The digest of a subscriber for a date, created ``pending`` if it is new; None
        when the subscriber is gone (purged since the caller read them)."""
        with self.transaction():
            self.db.execute(
                "INSERT OR IGNORE INTO digests (subscriber_id, digest_date, status, created_at, "
                "updated_at) SELECT ?, ?, 'pending', ?, ? "
                "WHERE EXISTS (SELECT 1 FROM subscribers WHERE id = ?)",
                [subscriber_id, day_text(digest_date), stamp(now), stamp(now), subscriber_id],
            )
        return self.digest_row(subscriber_id, digest_date)

    def open_digests(
        self, subscriber_ids: Sequence[int], digest_date: dt.date, *, now: dt.datetime
    ) -> list[DigestRow | None]:
        """:meth:`open_digest` for each subscriber, in order (None for one purged meanwhile),
        committed in transactions of :data:`OPEN_BATCH` (creating ``pending`` rows changes
        nothing a crash could lose)."""
        rows = []
        for start in range(0, len(subscriber_ids), OPEN_BATCH):
            with self.transaction():
                for subscriber_id in subscriber_ids[start : start + OPEN_BATCH]:
                    rows.append(self.open_digest(subscriber_id, digest_date, now=now))
        return rows

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
        now: dt.datetime,
    ) -> bool:
        """Move a digest to ``rendered`` for this run, if nobody else moved it first.

        The conditional UPDATE is the claim: of two overlapping runs exactly one changes
        the row, and only that one sends the message. It also re-reads the subscriber: one
        who unsubscribed (or was paused or bounced) since the run loaded them is not
        claimed; their digest becomes ``skipped`` with their status as the reason, and its
        papers stay candidates. An unsubscribe that lands before the hand-off always wins.
        """
        with self.transaction():
            cursor = self.db.execute(
                "UPDATE digests SET status = 'rendered', claimed_by = ?, picks = ?, "
                "message_id = ?, run_id = ?, attempts = attempts + 1, updated_at = ? "
                "WHERE id = ? AND status = ? AND claimed_by IS ? AND EXISTS (SELECT 1 FROM "
                "subscribers WHERE id = digests.subscriber_id AND status = 'active')",
                [
                    claimed_by,
                    picks_json(picks),
                    message_id,
                    run_id,
                    stamp(now),
                    digest_id,
                    from_status,
                    previous_claim,
                ],
            )
            if cursor.rowcount == 1:
                return True
            self.db.execute(
                "UPDATE digests SET status = 'skipped', claimed_by = NULL, updated_at = ?, "
                "error = (SELECT status FROM subscribers WHERE id = digests.subscriber_id) "
                "WHERE id = ? AND status = ? AND claimed_by IS ? AND EXISTS (SELECT 1 FROM "
                "subscribers WHERE id = digests.subscriber_id AND status != 'active')",
                [stamp(now), digest_id, from_status, previous_claim],
            )
        return False

    def skip_claim_if_inactive(self, digest_id: int, *, claimed_by: str, now: dt.datetime) -> bool:
        """Just before a claimed digest is handed over: if its subscriber stopped being
        ``active`` since the claim (the daily run claims a batch at a time), the digest
        becomes ``skipped`` with their status as the reason, as :meth:`claim_digest` does,
        and this returns True; nothing is written while they are still active."""
        active = self.db.execute(
            "SELECT 1 FROM digests d JOIN subscribers s ON s.id = d.subscriber_id "
            "WHERE d.id = ? AND s.status = 'active'",
            [digest_id],
        ).fetchone()
        if active:
            return False
        with self.transaction():
            self.db.execute(
                "UPDATE digests SET status = 'skipped', claimed_by = NULL, updated_at = ?, "
                "error = (SELECT status FROM subscribers WHERE id = digests.subscriber_id) "
                "WHERE id = ? AND status = 'rendered' AND claimed_by = ?",
                [stamp(now), digest_id, claimed_by],
            )
        return True

    def mark_digest_sent(
        self,
        digest_id: int,
        *,
        subscriber_id: int,
        paper_ids: Sequence[str],
        claimed_by: str,
        now: dt.datetime,
    ) -> bool:
        """Mark a digest sent and its papers as sent to the subscriber, in one transaction."""
        with self.transaction():
            cursor = self.db.execute(
                "UPDATE digests SET status = 'sent', error = NULL, updated_at = ? "
                "WHERE id = ? AND status = 'rendered' AND claimed_by = ?",
                [stamp(now), digest_id, claimed_by],
            )
            if cursor.rowcount != 1:
                return False
            self.record_sends(subscriber_id, paper_ids, digest_id=digest_id, now=now)
            self.db.execute(
                "UPDATE subscribers SET hard_failures = 0 WHERE id = ? AND hard_failures != 0",
                [subscriber_id],
            )
        return True

    def mark_digest_skipped(self, digest_id: int, *, reason: str, now: dt.datetime) -> bool:
        """A digest with nothing to send (quiet day, no note wanted)."""
        with self.transaction():
            cursor = self.db.execute(
                "UPDATE digests SET status = 'skipped', error = ?, updated_at = ? "
                "WHERE id = ? AND status = 'pending'",
                [reason, stamp(now), digest_id],
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
        now: dt.datetime,
    ) -> bool:
        """Record a failed delivery. A transient failure goes back to ``pending`` (the next
        run retries it); a permanent one counts toward the subscriber becoming ``bounced``.
        Its papers are not recorded as sent, so they stay candidates. Returns True when
        the subscriber was just marked bounced."""
        with self.transaction():
            self.db.execute(
                "UPDATE digests SET status = ?, error = ?, claimed_by = NULL, updated_at = ? "
                "WHERE id = ? AND status = 'rendered' AND claimed_by = ?",
                ["failed" if permanent else "pending", reason, stamp(now), digest_id, claimed_by],
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
                [stamp(now), subscriber_id, max_hard_failures],
            )
        return cursor.rowcount == 1

    def release_digest(self, digest_id: int, *, claimed_by: str, now: dt.datetime) -> None:
        """Give a claimed digest back (``pending``) when a run stops before sending it."""
        with self.transaction():
            self.db.execute(
                "UPDATE digests SET status = 'pending', claimed_by = NULL, updated_at = ? "
                "WHERE id = ? AND status = 'rendered' AND claimed_by = ?",
                [stamp(now), digest_id, claimed_by],
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

    def sent_paper_ids(self, subscriber_ids: Iterable[int]) -> dict[int, set[str]]:
        """subscriber id → ids of every paper already sent to them."""
        ids = sorted(set(subscriber_ids))
        sent: dict[int, set[str]] = {i: set() for i in ids}
        for chunk, marks in in_chunks(ids):
            for sub_id, paper_id in self.db.execute(
                f"SELECT subscriber_id, paper_id FROM sends WHERE subscriber_id IN ({marks})",
                chunk,
            ):
                sent[sub_id].add(paper_id)
        return sent

    def record_sends(
        self,
        subscriber_id: int,
        paper_ids: Iterable[str],
        *,
        digest_id: int | None,
        now: dt.datetime,
    ) -> None:
        """Mark papers as sent to a subscriber (call inside the digest's transaction)."""
        sent_at = stamp(now)
        self.db.conn.executemany(
            "INSERT OR IGNORE INTO sends (subscriber_id, paper_id, digest_id, sent_at) "
            "VALUES (?, ?, ?, ?)",
            [(subscriber_id, p, digest_id, sent_at) for p in paper_ids],
        )

    # --- runs -----------------------------------------------------------------------------

    def start_run(
        self,
        *,
        digest_date: dt.date,
        trigger: str,
        transport: str,
        dry_run: bool,
        now: dt.datetime,
        pid: int,
    ) -> int:
        """Record a run as started; its id."""
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO runs (started_at, digest_date, status, trigger, transport, pid) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    stamp(now),
                    day_text(digest_date),
                    "dry-run" if dry_run else "running",
                    trigger,
                    transport,
                    pid,
                ],
            )
        return int(cursor.lastrowid or 0)

    def mark_stale_runs(self, *, now: dt.datetime) -> int:
        """Runs still "running" when a new run holds the lock died (killed or crashed):
        recorded as ``interrupted``, with the digests each had marked sent as its ``sent``
        (its own count died with it). Returns how many."""
        with self.transaction():
            cursor = self.db.execute(
                f"UPDATE runs SET status = 'interrupted', finished_at = ?, sent = {_SENT_BY_RUN}, "
                "notes = json_insert(notes, '$[#]', 'the process died; the next run finished "
                "its work') WHERE status = 'running'",
                [stamp(now)],
            )
        return cursor.rowcount

    def finish_run(self, run_id: int, result: RunResult) -> None:
        """Record how a run ended."""
        values = [
            stamp(result.finished_at),
            result.status,
            *(getattr(result, c) for c in _RUN_COUNTS),
            json.dumps(
                [{"email": f.email, "reason": f.reason, "retry": f.retry} for f in result.failures]
            ),
            json.dumps(list(result.notes)),
            result.duration_seconds,
        ]
        columns = ("finished_at", "status", *_RUN_COUNTS, "failures", "notes", "duration_seconds")
        with self.transaction():
            self.db.execute(
                f"UPDATE runs SET {', '.join(f'{c} = ?' for c in columns)} WHERE id = ?",
                [*values, run_id],
            )

    def runs(self, *, limit: int = 20, in_progress: bool = True) -> list[RunRow]:
        """The latest runs, newest first.

        A run still ``running`` reads its ``sent`` from the digests it marked sent.
        ``in_progress``: whether a run holds the run lock now (see
        :func:`digest.run.recorded_runs`); when none does, or for every ``running`` run
        but the newest, the process is gone: the run reads as ``interrupted``, with a note.
        """
        rows = self._runs(f"ORDER BY id DESC LIMIT {int(limit)}", [])
        live = next((r.id for r in rows if r.status == "running"), None) if in_progress else None
        return [
            row
            if row.status != "running" or row.id == live
            else replace(row, status="interrupted", notes=(*row.notes, GONE_NOTE))
            for row in rows
        ]

    def last_successful_run_since(self, moment: dt.datetime) -> RunRow | None:
        """The latest run that finished ``ok`` and started at or after ``moment``."""
        rows = self._runs(
            # julianday() reads each side's UTC offset: the instants are compared, not text.
            "WHERE status = 'ok' AND julianday(started_at) >= julianday(?) "
            "ORDER BY id DESC LIMIT 1",
            [stamp(moment)],
        )
        return rows[0] if rows else None

    def _runs(self, clause: str, args: Sequence[Any]) -> list[RunRow]:
        rows = []
        # A running run's own count is in its process's memory (or died with it).
        columns = ", ".join(
            f"CASE WHEN status = 'running' THEN {_SENT_BY_RUN} ELSE sent END AS sent"
            if f.name == "sent"
            else f.name
            for f in fields(RunRow)
        )
        for row in self.db.query(f"SELECT {columns} FROM runs {clause}", args):
            row["failures"] = tuple(RunFailure(**f) for f in json.loads(row["failures"]))
            row["notes"] = tuple(json.loads(row["notes"]))
            rows.append(RunRow(**row))
        return rows
