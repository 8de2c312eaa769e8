"""The digest state machine a batch at a time: the daily run's bulk claims, skips, marks
and releases for a transport that makes a repeat harmless (the outbox).

Each method does what its one-digest counterpart in :mod:`.digests` does for every digest
it is given, with the same conditions and the same results, in one transaction of a few
statements (an ``executemany`` or one ``IN (…)`` statement each) instead of one
transaction per digest: the run commits a batch of ~200 digests at once. SMTP keeps the
one-digest methods, which bound its duplicate window to one message.

Statements read the rows they are about to change first and then change those rows by id,
inside the one write transaction (``BEGIN IMMEDIATE``: no other connection can commit in
between), rather than ``UPDATE … RETURNING``, which needs SQLite 3.35.

Part of the digests aggregate (its tables are :mod:`.digests`'s: ``digests``, ``sends`` and
the subscribers' ``hard_failures``), in a file of its own; it writes picks as that module
does (:func:`~.digests.picks_json`). May import: the standard library,
:mod:`digest.records`, :mod:`digest.store.db` and :mod:`digest.store.digests`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ..records import Pick
from .db import StoreBase, in_chunks, stamp
from .digests import picks_json

ClaimOutcome = Literal["claimed", "skipped", "taken", "removed"]


@dataclass(frozen=True)
class DigestClaim:
    """One digest to claim, with what :meth:`DigestStore.claim_digest` takes for it."""

    digest_id: int
    from_status: str  # the status the run read ("pending", or "rendered" after a crash)
    previous_claim: str | None  # the claim the run read (a crashed run's, or None)
    picks: tuple[Pick, ...]  # what fits in one email
    message_id: str


@dataclass(frozen=True)
class SentDigest:
    """One digest handed over, with what :meth:`DigestStore.mark_digest_sent` takes."""

    digest_id: int
    subscriber_id: int
    paper_ids: tuple[str, ...]


class DigestBatchStore(StoreBase):
    """Bulk versions of the run's per-digest state changes."""

    def claim_digests(
        self,
        claims: Sequence[DigestClaim],
        *,
        claimed_by: str,
        run_id: int,
        now: dt.datetime,
    ) -> dict[int, ClaimOutcome]:
        """:meth:`~.digests.DigestStore.claim_digest` for each of ``claims``, in one
        transaction; digest id → ``"claimed"`` (now ``rendered`` for ``claimed_by``),
        ``"skipped"`` (the subscriber stopped being ``active``: the digest is ``skipped``
        with their status as the reason, its papers stay candidates; or it already was
        skipped), ``"taken"`` (another run moved it first) or ``"removed"`` (the digest is
        gone: its subscriber was purged).

        Each claim is the same conditional UPDATE as the one-digest claim, so of two
        overlapping runs exactly one changes a row.
        """
        if not claims:
            return {}
        moment = stamp(now)
        with self.transaction():
            self.db.conn.executemany(
                "UPDATE digests SET status = 'rendered', claimed_by = ?, picks = ?, "
                "message_id = ?, run_id = ?, attempts = attempts + 1, updated_at = ? "
                "WHERE id = ? AND status = ? AND claimed_by IS ? AND EXISTS (SELECT 1 FROM "
                "subscribers WHERE id = digests.subscriber_id AND status = 'active')",
                [
                    (
                        claimed_by,
                        picks_json(c.picks),
                        c.message_id,
                        run_id,
                        moment,
                        c.digest_id,
                        c.from_status,
                        c.previous_claim,
                    )
                    for c in claims
                ],
            )
            outcomes = self._claim_outcomes([c.digest_id for c in claims], claimed_by)
            refused = [c for c in claims if outcomes[c.digest_id] != "claimed"]
            if refused:
                self.db.conn.executemany(
                    "UPDATE digests SET status = 'skipped', claimed_by = NULL, updated_at = ?, "
                    "error = (SELECT status FROM subscribers WHERE id = digests.subscriber_id) "
                    "WHERE id = ? AND status = ? AND claimed_by IS ? AND EXISTS (SELECT 1 FROM "
                    "subscribers WHERE id = digests.subscriber_id AND status != 'active')",
                    [(moment, c.digest_id, c.from_status, c.previous_claim) for c in refused],
                )
                outcomes.update(self._claim_outcomes([c.digest_id for c in refused], claimed_by))
        return outcomes

    def _claim_outcomes(
        self, digest_ids: Sequence[int], claimed_by: str
    ) -> dict[int, ClaimOutcome]:
        outcomes: dict[int, ClaimOutcome] = {}
        for chunk, marks in in_chunks(digest_ids):
            for digest_id, status, claim in self.db.execute(
                f"SELECT id, status, claimed_by FROM digests WHERE id IN ({marks})", chunk
            ):
                if status == "rendered" and claim == claimed_by:
                    outcomes[digest_id] = "claimed"
                else:
                    outcomes[digest_id] = "skipped" if status == "skipped" else "taken"
        for digest_id in digest_ids:
            outcomes.setdefault(digest_id, "removed")  # deleted meanwhile (a purge)
        return outcomes

    def skip_claims_if_inactive(
        self, digest_ids: Sequence[int], *, claimed_by: str, now: dt.datetime
    ) -> set[int]:
        """:meth:`~.digests.DigestStore.skip_claim_if_inactive` for each digest: those whose
        subscriber stopped being ``active`` since the claim become ``skipped`` with their
        status as the reason; returns their ids, and those of the digests that are gone
        (their subscriber was purged; see :meth:`missing_digests`). Nothing is written while
        all are active."""
        inactive: list[int] = []
        active: set[int] = set()
        for chunk, marks in in_chunks(digest_ids):
            for digest_id, status in self.db.execute(
                "SELECT d.id, s.status FROM digests d JOIN subscribers s ON s.id = d.subscriber_id "
                f"WHERE d.id IN ({marks})",
                chunk,
            ):
                if status == "active":
                    active.add(digest_id)
                else:
                    inactive.append(digest_id)
        gone = set(digest_ids) - active - set(inactive)  # purged: nothing to write
        if not inactive:
            return gone
        with self.transaction():
            for chunk, marks in in_chunks(inactive):
                self.db.execute(
                    "UPDATE digests SET status = 'skipped', claimed_by = NULL, updated_at = ?, "
                    "error = (SELECT status FROM subscribers WHERE id = digests.subscriber_id) "
                    f"WHERE id IN ({marks}) AND status = 'rendered' AND claimed_by = ?",
                    [stamp(now), *chunk, claimed_by],
                )
        return set(inactive) | gone

    def missing_digests(self, digest_ids: Sequence[int]) -> set[int]:
        """The ids among ``digest_ids`` with no digest any more: a purged subscriber's
        digests go with them."""
        found: set[int] = set()
        for chunk, marks in in_chunks(digest_ids):
            found.update(
                row[0]
                for row in self.db.execute(f"SELECT id FROM digests WHERE id IN ({marks})", chunk)
            )
        return set(digest_ids) - found

    def mark_digests_sent(
        self, sent: Sequence[SentDigest], *, claimed_by: str, now: dt.datetime
    ) -> set[int]:
        """:meth:`~.digests.DigestStore.mark_digest_sent` for each, in one transaction: the
        digests still ``rendered`` for ``claimed_by`` become ``sent``, their papers are
        recorded as sent to their subscribers and those subscribers' ``hard_failures``
        go back to 0. Returns the ids of the digests marked."""
        if not sent:
            return set()
        moment = stamp(now)
        marked: set[int] = set()
        with self.transaction():
            for chunk, marks in in_chunks([s.digest_id for s in sent]):
                ids = [
                    row[0]
                    for row in self.db.execute(
                        f"SELECT id FROM digests WHERE id IN ({marks}) "
                        "AND status = 'rendered' AND claimed_by = ?",
                        [*chunk, claimed_by],
                    )
                ]
                if ids:
                    self.db.execute(
                        "UPDATE digests SET status = 'sent', error = NULL, updated_at = ? "
                        f"WHERE id IN ({', '.join('?' * len(ids))})",
                        [moment, *ids],
                    )
                marked.update(ids)
            done = [s for s in sent if s.digest_id in marked]
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO sends (subscriber_id, paper_id, digest_id, sent_at) "
                "VALUES (?, ?, ?, ?)",
                [(s.subscriber_id, p, s.digest_id, moment) for s in done for p in s.paper_ids],
            )
            for chunk, marks in in_chunks(sorted({s.subscriber_id for s in done})):
                self.db.execute(
                    "UPDATE subscribers SET hard_failures = 0 "
                    f"WHERE id IN ({marks}) AND hard_failures != 0",
                    chunk,
                )
        return marked

    def mark_digests_skipped(self, skips: Sequence[tuple[int, str]], *, now: dt.datetime) -> int:
        """:meth:`~.digests.DigestStore.mark_digest_skipped` for each (digest id, reason)
        in one transaction: each still ``pending`` becomes ``skipped``. Returns how many."""
        if not skips:
            return 0
        with self.transaction():
            cursor = self.db.conn.executemany(
                "UPDATE digests SET status = 'skipped', error = ?, updated_at = ? "
                "WHERE id = ? AND status = 'pending'",
                [(reason, stamp(now), digest_id) for digest_id, reason in skips],
            )
        return cursor.rowcount

    def release_digests(
        self, digest_ids: Sequence[int], *, claimed_by: str, now: dt.datetime
    ) -> None:
        """:meth:`~.digests.DigestStore.release_digest` for each, in one transaction: the
        ones still ``rendered`` for ``claimed_by`` go back to ``pending``."""
        with self.transaction():
            for chunk, marks in in_chunks(digest_ids):
                self.db.execute(
                    "UPDATE digests SET status = 'pending', claimed_by = NULL, updated_at = ? "
                    f"WHERE id IN ({marks}) AND status = 'rendered' AND claimed_by = ?",
                    [stamp(now), *chunk, claimed_by],
                )
